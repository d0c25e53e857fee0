// The batch script of a training job or an endpoint replica: the command
// (a list shell-quoted, a string under `bash -c`), run once per node through
// srun for multi-node jobs, with the rendezvous environment of
// docs/language.md (KILN_NODE_RANK, MASTER_ADDR, WORLD_SIZE, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace kiln::slurm {

struct ScriptSpec {
  std::string address;      // kiln address, written as a comment
  nlohmann::json command;   // list<string> | string
  int nodes = 1;
  int gpus_per_node = 0;
  std::string mkdir;        // a directory the script creates first ("" = none)
  nlohmann::json setup;     // null | list<string> | string: run on each node before `command`
};

// Single-quoted for bash: abc -> 'abc', it's -> 'it'\''s'.
std::string ShellQuote(const std::string& s);
// False with *error when `command` (or `setup`) is neither a string nor a
// non-empty list of strings.
bool BuildScript(const ScriptSpec& spec, std::string* script, std::string* error);

}  // namespace kiln::slurm
