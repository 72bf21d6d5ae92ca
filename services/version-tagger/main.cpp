// conveyor-version-tagger: next SemVer from Conventional Commits, CHANGELOG.md, annotated tag, GitHub Release.
#include "app.hpp"

int main(int argc, char** argv) { return conveyor::runtime::main(argc, argv, "version-tagger", conveyor::version_tagger::run); }
