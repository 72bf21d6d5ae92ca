// conveyor-test-runner: checks out a run's commit, runs its test steps and reports JUnit results.
#include "app.hpp"

int main(int argc, char** argv) { return conveyor::runtime::main(argc, argv, "test-runner", conveyor::test_runner::run); }
