// volnode: a DICOM 3D node. The command line and the composition root.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>

#include "node.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace {

using namespace volnode;

int runServe(const std::string& config_path, const std::vector<std::string>& overrides) {
  Config config = loadConfig(config_path, overrides);
  initLogging(config.log);
  // SIGINT/SIGTERM are taken by sigwait below, in this thread only; every thread
  // started from here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Node node(config);
  node.start();
  std::cout << node.listeningSummary() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  moduleLogger("app")->info("{} received: finishing in-flight work and stopping", strsignal(received));
  node.stop();
  moduleLogger("app")->info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"volnode: a DICOM 3D node (receive, reconstruct, render, send back)"};
  app.set_version_flag("--version", std::string("volnode ") + VOLNODE_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  std::vector<std::string> overrides;

  auto* serve = app.add_subcommand("serve", "run the node (DICOM listener, pipeline, console)");
  serve->add_option("--config,-c", config_path, "configuration file (default: the embedded etc/volnode.toml)");
  serve->add_option("--set", overrides, "override a key, e.g. --set dicom.port=11113 (repeatable)");

  auto* config_cmd = app.add_subcommand("config", "print or check configuration");
  bool print_default = false;
  std::string check_path;
  config_cmd->add_flag("--print-default", print_default, "print the default configuration file");
  config_cmd->add_option("--check", check_path, "check a configuration file and print the effective values");
  config_cmd->add_option("--set", overrides, "override a key while checking (repeatable)");

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve->parsed()) return runServe(config_path, overrides);
    if (config_cmd->parsed()) {
      if (print_default) {
        std::cout << defaultConfigText();
        return 0;
      }
      if (!check_path.empty()) {
        Config config = loadConfig(check_path, overrides);
        std::cout << renderConfig(config);
        std::cerr << check_path << ": OK\n";
        return 0;
      }
      std::cerr << "config: use --print-default or --check FILE\n";
      return 2;
    }
  } catch (const Error& e) {
    std::cerr << "volnode: " << e.what() << "\n";
    return e.code() == Errc::InvalidConfig ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "volnode: unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
