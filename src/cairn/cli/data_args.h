// Internal to the `cairn data` commands: their shared "--name value" argument parsing.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cairn::cli::data_detail {

// Options of the form --name value (or --name=value); positional arguments in order.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> opts;
};

// Throws UsageError (with `usage` and a "did you mean" hint) for an option not in `valued` or one without a value.
Args parse_args(const std::vector<std::string>& args, const std::vector<std::string>& valued, const std::string& usage);

}  // namespace cairn::cli::data_detail
