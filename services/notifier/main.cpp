// conveyor-notifier: routes the public event stream to Slack, Discord, signed webhooks and GitHub.
#include "app.hpp"

int main(int argc, char** argv) { return conveyor::runtime::main(argc, argv, "notifier", conveyor::notifier::run); }
