# helm and Argo CD backends: library conveyor_deployer_cluster_backends.
add_library(conveyor_deployer_cluster_backends INTERFACE)
