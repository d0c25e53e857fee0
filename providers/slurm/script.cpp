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

bool BuildScript(const ScriptSpec& spec, std::string* script, std::string* error) {
  std::string command;
  if (spec.command.is_string()) {
    command = "/bin/bash -c " + ShellQuote(spec.command.get<std::string>());
  } else if (spec.command.is_array() && !spec.command.empty()) {
    for (const auto& a : spec.command) {
      if (!a.is_string()) {
        *error = "every element of `command` must be a string";
        return false;
      }
      command += (command.empty() ? "" : " ") + ShellQuote(a.get<std::string>());
    }
  } else {
    *error = "`command` must be a string or a non-empty list of strings";
    return false;
  }
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
  if (nodes == 1) {
    s += "export KILN_NODE_RANK=0 NODE_RANK=0\n";
    s += "exec " + command + "\n";
  } else {
    // One task per node; each learns its rank from srun.
    s += "exec srun --nodes=" + std::to_string(nodes) + " --ntasks=" + std::to_string(nodes) +
         " --ntasks-per-node=1 --kill-on-bad-exit=1 /bin/bash -c "
         "'export KILN_NODE_RANK=$SLURM_NODEID NODE_RANK=$SLURM_NODEID; exec \"$@\"' kiln " +
         command + "\n";
  }
  *script = s;
  return true;
}

}  // namespace kiln::slurm
