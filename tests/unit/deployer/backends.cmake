# helm and argocd backend tests
