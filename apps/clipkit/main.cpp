// clipkit: the command-line front end. It only parses arguments and calls the library; every
// subcommand lives in its own cmd_*.cpp file and registers itself (see command.h).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>

#include "command.h"
#include "core/error.h"

namespace clipkit::app {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}
}  // namespace clipkit::app

int main(int argc, char** argv) {
  using clipkit::app::registry;
  CLI::App app{
      "clipkit: CLIP text and image embeddings, zero-shot classification, search and Stable "
      "Diffusion text conditioning, from the command line.",
      "clipkit"};
  app.set_version_flag("--version", std::string("clipkit ") + CLIPKIT_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'clipkit COMMAND --help' for a command's options and examples.");
  auto& cmds = registry();
  std::sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<CLI::App*, std::function<int()>> runners;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    if (!c.examples.empty()) sub->footer("Examples:\n" + c.examples);
    runners[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const clipkit::Error& e) {
    std::fprintf(stderr, "clipkit: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "clipkit: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clipkit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
