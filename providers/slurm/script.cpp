#include "providers/slurm/script.h"

#include <algorithm>

namespace kiln::slurm {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

namespace {

// A list is argv (each word shell-quoted); a string runs under bash -c.
bool ShellCommand(const nlohmann::json& v, const std::string& name, std::string* out, std::string* error) {
  out->clear();
  if (v.is_string()) {
    *out = "/bin/bash -c " + ShellQuote(v.get<std::string>());
    return true;
  }
  if (v.is_array() && !v.empty()) {
    for (const auto& a : v) {
      if (!a.is_string()) {
        *error = "every element of `" + name + "` must be a string";
        return false;
      }
      *out += (out->empty() ? "" : " ") + ShellQuote(a.get<std::string>());
    }
    return true;
  }
  *error = "`" + name + "` must be a string or a non-empty list of strings";
  return false;
}

}  // namespace

bool BuildScript(const ScriptSpec& spec, std::string* script, std::string* error) {
  std::string command, setup;
  if (!ShellCommand(spec.command, "command", &command, error)) return false;
  if (!spec.setup.is_null() && !ShellCommand(spec.setup, "setup", &setup, error)) return false;
  int nodes = std::max(spec.nodes, 1);
  int world = nodes * std::max(spec.gpus_per_node, 1);
  std::string s = "#!/bin/bash\n";
  // The address only: the comment goes into Slurm's job record.
  s += "# kiln: " + spec.address + "\n";
  if (!spec.mkdir.empty()) s += "mkdir -p " + ShellQuote(spec.mkdir) + "\n";
  s += "export KILN_NUM_NODES=" + std::to_string(nodes) +
       " KILN_GPUS_PER_NODE=" + std::to_string(spec.gpus_per_node) + " WORLD_SIZE=" + std::to_string(world) + "\n";
  // Node names need not resolve: each node's NodeAddr is its address.
  s += "_kiln_addrs=\n"
       "for _kiln_n in $(scontrol show hostnames \"$SLURM_JOB_NODELIST\" 2>/dev/null); do\n"
       "  _kiln_a=$(scontrol show node \"$_kiln_n\" -o 2>/dev/null | sed -n 's/.* NodeAddr=\\([^ ]*\\).*/\\1/p')\n"
       "  _kiln_addrs=\"$_kiln_addrs${_kiln_addrs:+,}${_kiln_a:-$_kiln_n}\"\n"
       "done\n"
       "[ -n \"$_kiln_addrs\" ] || _kiln_addrs=$(hostname)\n"
       "export KILN_NODE_ADDRS=\"$_kiln_addrs\" KILN_MASTER_ADDR=\"${_kiln_addrs%%,*}\"\n"
       "export KILN_MASTER_PORT=$((20000 + ${SLURM_JOB_ID:-0} % 20000))\n"
       "export MASTER_ADDR=\"$KILN_MASTER_ADDR\" MASTER_PORT=\"$KILN_MASTER_PORT\"\n";
  // `setup` runs on each node before the command; its failure fails the job.
  std::string run_setup;
  if (!setup.empty()) {
    s += "export _KILN_SETUP=" + ShellQuote(setup) + "\n";
    run_setup = "eval \"$_KILN_SETUP\" || exit $?; ";
  }
  if (nodes == 1) {
    s += "export KILN_NODE_RANK=0 NODE_RANK=0\n";
    if (!run_setup.empty()) s += run_setup.substr(0, run_setup.size() - 2) + "\n";
    s += "exec " + command + "\n";
  } else {
    // One task per node; each learns its rank from srun.
    s += "exec srun --nodes=" + std::to_string(nodes) + " --ntasks=" + std::to_string(nodes) +
         " --ntasks-per-node=1 --kill-on-bad-exit=1 /bin/bash -c "
         "'export KILN_NODE_RANK=$SLURM_NODEID NODE_RANK=$SLURM_NODEID; " + run_setup + "exec \"$@\"' kiln " +
         command + "\n";
  }
  *script = s;
  return true;
}

}  // namespace kiln::slurm
