// conveyor-health-verifier: checks a deployment (HTTP health, Prometheus analysis) and requests a rollback on failure.
#include "app.hpp"

int main(int argc, char** argv) { return conveyor::runtime::main(argc, argv, "health-verifier", conveyor::health_verifier::run); }
