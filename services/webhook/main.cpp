// conveyor-webhook: receives GitHub webhooks and starts pipeline runs.
#include "app.hpp"

int main(int argc, char** argv) { return conveyor::runtime::main(argc, argv, "webhook", conveyor::webhook::run); }
