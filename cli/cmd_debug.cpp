// `kiln debug ast FILE` and `kiln debug tokens FILE`: developer views of the
// parser's output, used by the golden tests.
#include <cstdio>

#include "cli/commands.h"
#include "compiler/ast/ast_dump.h"
#include "compiler/syntax/parse.h"
#include "compiler/syntax/tokens.h"

namespace kiln::cli {

int RunDebug(const Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  Flags flags("kiln debug ast|tokens FILE",
              "Developer tools: print the syntax tree (ast) or the token stream (tokens) of a file.");
  flags.Positional(&positional, 2, 2);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  const std::string& what = positional[0];
  if (what != "ast" && what != "tokens") {
    std::string hint = ClosestMatch(what, {"ast", "tokens"});
    ctx.Fail("unknown debug view `" + what + "`" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)") +
             "; expected `ast` or `tokens`");
    return 1;
  }
  SourceManager sm;
  std::string error;
  uint32_t id = sm.AddFile(positional[1], &error);
  if (id == 0) {
    ctx.Fail(error);
    return 1;
  }
  if (what == "tokens") {
    for (const syntax::TokenInfo& t : syntax::Tokenize(sm, id)) {
      *ctx.out << t.range.begin.line << ":" << t.range.begin.column << " " << t.kind
               << (t.hidden ? " (hidden)" : "") << " " << ast::QuoteForDump(t.text) << "\n";
    }
    return 0;
  }
  Diagnostics diags;
  std::unique_ptr<ast::File> file = Parse(sm, id, diags);
  *ctx.out << ast::DumpFile(*file);
  ctx.out->flush();
  ctx.Report(diags, sm);
  return diags.HasErrors() ? 1 : 0;
}

}  // namespace kiln::cli
