// Subcommand registry for the clipkit command. Each apps/clipkit/cmd_*.cpp file defines one
// subcommand and registers it with a static Registrar, so adding a command touches no other file.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace clipkit::app {

struct Command {
  std::string name;
  // Adds the subcommand's options to `sub` and returns the function that runs it (called after
  // parsing; returns the process exit status).
  std::function<std::function<int()>(CLI::App& sub)> setup;
  std::string description;
  std::string examples;  // shown at the end of the subcommand's --help
};

std::vector<Command>& registry();

struct Registrar {
  explicit Registrar(Command c) { registry().push_back(std::move(c)); }
};

}  // namespace clipkit::app
