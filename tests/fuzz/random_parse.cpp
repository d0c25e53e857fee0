// A dependency-free fuzz driver for CI: feeds LLVMFuzzerTestOneInput with
// random and mutated inputs from a seeded PRNG (so failures reproduce).
//   kiln_parse_random [ITERATIONS] [SEED] [CORPUS_FILES...]
// Mutations start from the corpus (the golden test files by default) and
// from hand-written pathological inputs (deep nesting, long operator chains,
// unterminated strings and heredocs).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

const char* kFragments[] = {
    "input ", "let ", "output ", "assert ", "type ", "provider ", "module ", "backend ",
    "cluster ", "slurm.reservation ", "for ", " in ", "if ", "true", "false", "null",
    "sensitive", "x", "y", " = ", ": ", "{", "}", "[", "]", "(", ")", ",", ".", "..",
    "=>", "==", "!=", "<=", ">=", "&&", "||", "?", "!", "-", "+", "*", "/", "%", "<", ">",
    "|", "\"", "\"a${b}c\"", "${", "$${", "\\u{1F600}", "\\q", "<<EOT\n", "<<-EOT\n",
    "EOT\n", "\n", "  ", "#c\n", "//c\n", "///doc\n", "/*", "*/", "1", "1_000", "0.5",
    "1e-4", "80GiB", "10Gb", "1.2.3", "99999999999999999999", "500ms", "\xff", "\xc3\xa9",
    "list<", "map<", "string", "int", "?",
};

std::string Mutate(std::string s, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> op_dist(0, 5);
  int rounds = 1 + static_cast<int>(rng() % 8);
  for (int r = 0; r < rounds; ++r) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (op_dist(rng)) {
      case 0:  // random byte
        s.insert(s.begin() + static_cast<long>(pos), static_cast<char>(rng() & 0xFF));
        break;
      case 1:  // delete a span
        if (!s.empty() && pos < s.size()) s.erase(pos, 1 + rng() % std::min<size_t>(16, s.size() - pos));
        break;
      case 2:  // grammar fragment
        s.insert(pos, kFragments[rng() % (sizeof kFragments / sizeof kFragments[0])]);
        break;
      case 3:  // duplicate a span
        if (!s.empty() && pos < s.size()) s.insert(pos, s.substr(pos, 1 + rng() % 32));
        break;
      case 4:  // flip a byte
        if (!s.empty() && pos < s.size()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
        break;
      default:  // truncate
        if (pos < s.size()) s.resize(pos);
        break;
    }
  }
  return s;
}

std::vector<std::string> Pathological() {
  std::vector<std::string> out;
  out.push_back("let x = " + std::string(100000, '('));
  out.push_back("let x = " + std::string(100000, '['));
  out.push_back("let x = " + std::string(50000, '{'));
  out.push_back("cluster a " + std::string(100000, '{'));
  out.push_back("let x = " + std::string(100000, '-') + "1");
  out.push_back("let x = " + std::string(100000, '!') + "a");
  std::string chain = "let x = a";
  for (int i = 0; i < 50000; ++i) chain += " + a";
  out.push_back(chain);
  std::string cond = "let x = a";
  for (int i = 0; i < 20000; ++i) cond += " ? a : a";
  out.push_back(cond);
  std::string interp = "let x = ";
  for (int i = 0; i < 20000; ++i) interp += "\"${";
  out.push_back(interp);
  std::string type = "input x: ";
  for (int i = 0; i < 20000; ++i) type += "list<";
  out.push_back(type);
  out.push_back("let x = \"unterminated");
  out.push_back("let x = <<EOT\nno end");
  out.push_back("/* unterminated");
  out.push_back(std::string(100000, '}'));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 2000;
  uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  std::vector<std::string> corpus;
  for (int i = 3; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    corpus.push_back(ss.str());
  }
  if (corpus.empty()) corpus.push_back("cluster a {\n  nodes = 1..4\n  gpu = \"H100:8\"\n}\n");
  std::mt19937_64 rng(seed);
  auto start = std::chrono::steady_clock::now();
  for (const std::string& p : Pathological()) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(p.data()), p.size());
  }
  for (long i = 0; i < iterations; ++i) {
    std::string input;
    if (rng() % 4 == 0) {
      size_t n = rng() % 256;
      for (size_t k = 0; k < n; ++k) input += static_cast<char>(rng() & 0xFF);
    } else {
      input = Mutate(corpus[rng() % corpus.size()], rng);
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld random inputs and %zu pathological inputs parsed without a crash in %.1fs (seed %llu)\n",
              iterations, Pathological().size(), secs, static_cast<unsigned long long>(seed));
  return 0;
}
