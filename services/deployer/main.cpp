// conveyor-deployer: deploys a run to its environment (compose, helm, Argo CD) and rolls back.
#include "app.hpp"

int main(int argc, char** argv) { return conveyor::runtime::main(argc, argv, "deployer", conveyor::deployer::run); }
