# helm and Argo CD backends: library conveyor_deployer_cluster_backends
# (services/deployer/backend.hpp implemented by make_helm_backend /
# make_argocd_backend). Free of Kafka and Redis; tests in tests/unit/deployer.
add_library(conveyor_deployer_cluster_backends STATIC
  ${CMAKE_CURRENT_LIST_DIR}/helm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/helm_release.cpp
  ${CMAKE_CURRENT_LIST_DIR}/argocd.cpp
  ${CMAKE_CURRENT_LIST_DIR}/argocd_app.cpp)
target_include_directories(conveyor_deployer_cluster_backends PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(conveyor_deployer_cluster_backends
  PUBLIC conveyor::result conveyor::process conveyor::webclient nlohmann_json::nlohmann_json
  PRIVATE conveyor::config)
