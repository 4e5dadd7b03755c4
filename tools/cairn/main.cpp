// The `cairn` command line; everything lives in the cli layer so tests can drive it in-process.
#include "cairn/cli/cli.h"

int main(int argc, char** argv) { return cairn::cli::main(argc, argv); }
