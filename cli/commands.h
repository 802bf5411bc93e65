// commands.h: the `postern` subcommands. postern_main.cpp parses the global options and
// dispatches through commandTable(); a new subcommand is one entry in commands.cpp and a
// run function in its own file, with no change to the dispatcher.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace postern::cli {

// Exit statuses every subcommand uses.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 64;  // EX_USAGE (sysexits.h): bad command line

// What the dispatcher hands a subcommand.
struct CommandContext {
    std::string configPath;  // -c FILE, or defaultConfigPath()
    bool configPathGiven = false;
};

using CommandArgs = std::vector<std::string>;

struct Command {
    const char* name;      // "config"
    const char* synopsis;  // arguments after the name: "[-n | -d] [NAME...]"
    const char* summary;   // one line for `postern --help`
    const char* details;   // the rest of `postern NAME --help`; may be empty
    int (*run)(const CommandContext& context, const CommandArgs& args);
};

// Every subcommand, in the order `postern --help` lists them.
const std::vector<Command>& commandTable();

// The subcommand of that name; nullptr when there is none.
const Command* findCommand(std::string_view name);

// Writes postern's usage with the list of subcommands.
void printUsage(std::FILE* out);

// Writes one subcommand's usage and details.
void printCommandUsage(const Command& command, std::FILE* out);

// Loads the configuration the context names; on failure writes each error line to stderr
// as "postern: FILE:LINE: message" and returns nullopt.
std::optional<Config> loadConfigOrReport(const CommandContext& context);

// Writes "postern: message" to stderr.
void printError(const std::string& message);

// Subcommands (each in its NAME_command.cpp).
int runConfigCommand(const CommandContext& context, const CommandArgs& args);
int runCheckCommand(const CommandContext& context, const CommandArgs& args);
int runStartCommand(const CommandContext& context, const CommandArgs& args);
int runStopCommand(const CommandContext& context, const CommandArgs& args);
int runReloadCommand(const CommandContext& context, const CommandArgs& args);
int runStatusCommand(const CommandContext& context, const CommandArgs& args);

}  // namespace postern::cli
