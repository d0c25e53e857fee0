// Checking and evaluating generated configurations: N training jobs, each
// referencing one of 100 clusters and one of 100 datastores, with string
// interpolation over computed attributes. Prints parse+check time
// (Compile), evaluation time and the peak RSS for each N (each N runs in
// its own process so the peaks are independent).
//
//   eval_bench [N...]     default: 10000 100000
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "compiler/syntax/parse.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

void Generate(const fs::path& dir, int n) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "main.kiln");
    f << "input image: string = \"ghcr.io/acme/train:1\"\n";
    f << "input token: string sensitive = \"secret\"\n";
    for (int i = 0; i < 100; ++i) {
      f << "cluster pool_" << i << " {\n  gpu = \"H100:8\"\n  nodes = 1..16\n  region = \"r" << i % 7
        << "\"\n}\n";
      f << "datastore store_" << i << " {\n  size = 2TB\n  path = \"/data/" << i << "\"\n}\n";
    }
  }
  const int per_file = 2000;
  for (int start = 0; start < n; start += per_file) {
    std::ofstream f(dir / ("jobs_" + std::to_string(start / per_file) + ".kiln"));
    for (int i = start; i < n && i < start + per_file; ++i) {
      int c = i % 100;
      f << "training_job job_" << i << " {\n"
        << "  cluster = pool_" << c << "\n"
        << "  image = image\n"
        << "  command = [\"python\", \"train.py\", \"--data\", \"${store_" << c << ".uri}/shard-" << i << "\"]\n"
        << "  gpu = \"H100:8\"\n"
        << "  nodes = " << 1 + i % 4 << "\n"
        << "  env = { RUN = \"job-" << i << "-on-${pool_" << c << ".id}\", REGION = pool_" << c << ".region }\n"
        << "  secrets = { TOKEN = token }\n"
        << "  output = store_" << c << "\n"
        << "  max_runtime = " << 1 + i % 12 << "h\n"
        << "}\n";
    }
  }
}

// CPU time (user + system) of this process, in ms: steadier than wall time
// on a shared machine.
double CpuMs() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

// Resident memory now, in MiB (what is held, as opposed to the peak).
double RssMiB() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

long PeakRssKiB() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_maxrss;
}

int RunOne(int n) {
  fs::path dir = fs::temp_directory_path() / ("kiln_eval_bench_" + std::to_string(getpid()));
  Generate(dir, n);
  // Parsing alone (the ANTLR front end), to separate it from checking.
  auto p0 = Clock::now();
  double c_p0 = CpuMs();
  {
    kiln::SourceManager psm;
    kiln::Diagnostics pd;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::string err;
      uint32_t id = psm.AddFile(entry.path().string(), &err);
      if (id) kiln::Parse(psm, id, pd);
    }
  }
  auto p1 = Clock::now();
  double c_p1 = CpuMs();
  kiln::SourceManager sm;
  kiln::Diagnostics diags;
  kiln::CompileOptions options;
  options.root_dir = dir.string();
  auto t0 = Clock::now();
  double c_t0 = CpuMs();
  auto config = kiln::Compile(options, sm, diags);
  auto t1 = Clock::now();
  double c_t1 = CpuMs();
  double rss_compiled = RssMiB();
  if (!config) {
    std::fprintf(stderr, "compile failed with %zu diagnostics: %s\n", diags.size(),
                 diags.empty() ? "" : diags.items()[0].message.c_str());
    fs::remove_all(dir);
    return 1;
  }
  kiln::ConfigGraph graph = config->Evaluate(nullptr, diags);
  auto t2 = Clock::now();
  double c_t2 = CpuMs();
  double rss_evaluated = RssMiB();
  fs::remove_all(dir);
  if (diags.HasErrors()) {
    std::fprintf(stderr, "evaluation failed: %s\n", diags.items()[0].message.c_str());
    return 1;
  }
  // EvaluateInstance (what apply calls per resource) on 1000 instances
  // spread over the configuration: it must not grow with N.
  size_t probes = std::min<size_t>(1000, graph.resources.size());
  auto i0 = Clock::now();
  size_t found = 0;
  for (size_t k = 0; k < probes; ++k) {
    const kiln::ResourceInstance& r = graph.resources[k * graph.resources.size() / probes];
    kiln::Diagnostics d;
    if (config->EvaluateInstance(r.address, nullptr, d)) ++found;
  }
  auto i1 = Clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  double parse = ms(p0, p1);
  std::printf("N=%-7d instances=%-7zu compile(parse+check)=%8.1f ms  evaluate=%8.1f ms  total=%8.1f ms  "
              "[parse alone=%8.1f ms; check+evaluate=%8.1f ms]  peak_rss=%.1f MiB\n",
              n, graph.resources.size(), ms(t0, t1), ms(t1, t2), ms(t0, t2), parse, ms(t0, t2) - parse,
              PeakRssKiB() / 1024.0);
  std::printf("          EvaluateInstance: %.1f us per instance (%zu of %zu found)\n",
              probes ? ms(i0, i1) * 1000.0 / static_cast<double>(probes) : 0.0, found, probes);
  std::printf("          cpu: compile(parse+check)=%8.1f ms  evaluate=%8.1f ms  total=%8.1f ms  [parse alone=%8.1f ms]"
              "  rss after compile=%.1f MiB, after evaluate=%.1f MiB\n",
              c_t1 - c_t0, c_t2 - c_t1, c_t2 - c_t0, c_p1 - c_p0, rss_compiled, rss_evaluated);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {10000, 100000};
  int rc = 0;
  for (int n : sizes) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      int rc = RunOne(n);
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
  }
  return rc;
}
