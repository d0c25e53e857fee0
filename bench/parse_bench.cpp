// Parse throughput: generates a ~10 MB Kiln file of realistic declarations
// (or reads the file named on the command line), parses it with Parse() and
// prints MB/s and the peak resident set size. --antlr parses with the ANTLR
// path alone (what Parse() falls back to for files with errors), for
// comparison with the hand-written parser that Parse() uses otherwise.
//   parse_bench [FILE] [--mb N] [--write OUT] [--antlr]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "compiler/syntax/parse.h"
#include "compiler/syntax/parse_paths.h"

namespace {

// One block of typical configuration; `i` keeps names unique.
void AppendBlock(std::string& out, int i) {
  std::string n = std::to_string(i);
  out += "/// Training pool " + n + ".\n";
  out += "input gpus_" + n + ": int = 8\n";
  out += "input precision_" + n + ": \"bf16\" | \"fp16\" = \"bf16\"\n";
  out += "let image_" + n + " = \"ghcr.io/acme/llm:${version}-" + n + "\"\n\n";
  out += "cluster pool_" + n + " {\n"
         "  gpu      = \"H100:${gpus_" + n + "}\"\n"
         "  nodes    = 1..4\n"
         "  memory   = 512GiB\n"
         "  spot     = false\n"
         "  labels   = { team = \"llm\", cost_center = \"research-" + n + "\" }\n"
         "  provider = hpc\n"
         "}\n\n";
  out += "training_job train_" + n + " for lr in [1e-4, 3e-4, 1e-3] {\n"
         "  cluster     = pool_" + n + "\n"
         "  image       = image_" + n + "\n"
         "  command     = [\"torchrun\", \"--nproc_per_node=${gpus_" + n + "}\", \"train.py\", \"--lr=${lr}\"]\n"
         "  env         = { PRECISION = precision_" + n + ", STEPS = tostring(1000 * 4 + 1) }\n"
         "  max_runtime = 12h\n"
         "  retries     = length(regions) > 2 ? 3 : 1\n"
         "  lifecycle {\n"
         "    prevent_destroy = true\n"
         "    ignore_changes  = [env]\n"
         "  }\n"
         "}\n\n";
  out += "endpoint chat_" + n + " if enable_chat {\n"
         "  model    = train_" + n + "[\"0.001\"].checkpoint\n"
         "  replicas = 1..3\n"
         "  health_check {\n"
         "    path     = \"/health\"\n"
         "    interval = 10s\n"
         "  }\n"
         "  env = {for k, v in base_env: k => upper(v)}  # per-endpoint env\n"
         "}\n\n";
  out += "output url_" + n + " = chat_" + n + ".url\n\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, write_to;
  double mb = 10;
  bool antlr = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mb") && i + 1 < argc) {
      mb = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--antlr")) {
      antlr = true;
    } else if (!std::strcmp(argv[i], "--write") && i + 1 < argc) {
      write_to = argv[++i];
    } else {
      path = argv[i];
    }
  }
  std::string text;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else {
    size_t target = static_cast<size_t>(mb * 1024 * 1024);
    for (int i = 0; text.size() < target; ++i) AppendBlock(text, i);
  }
  if (!write_to.empty()) std::ofstream(write_to, std::ios::binary) << text;
  kiln::SourceManager sm;
  uint32_t id = sm.AddBuffer(path.empty() ? "generated.kiln" : path, text);
  kiln::Diagnostics diags;
  // CPU time as well as wall time: on a shared machine the wall clock
  // mostly measures the other processes.
  auto cpu_seconds = [] {
    struct rusage u {};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  double cpu_start = cpu_seconds();
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<kiln::ast::File> file =
      antlr ? kiln::syntax::AntlrParseFile(sm, id, diags) : kiln::Parse(sm, id, diags);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_start;
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  double size_mb = static_cast<double>(text.size()) / (1024.0 * 1024.0);
  std::printf(
      "%s: parsed %.2f MB (%zu declarations, %zu comments, %zu errors): wall %.3f s = %.2f MB/s, "
      "cpu %.3f s = %.2f MB/s, peak RSS %.0f MB\n",
      antlr ? "antlr path" : "Parse()", size_mb, file->decls.size(), file->comments.size(),
      diags.ErrorCount(), secs, size_mb / secs, cpu, size_mb / cpu,
      static_cast<double>(usage.ru_maxrss) / 1024.0);
  return diags.HasErrors() ? 1 : 0;
}
