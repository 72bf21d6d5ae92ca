// conveyor-helm-updater: sets image tags in a GitOps values file, commits and pushes.
#include "app.hpp"

int main(int argc, char** argv) { return conveyor::runtime::main(argc, argv, "helm-updater", conveyor::helm_updater::run); }
