// sendmail_options.h: Sendmail's command line as Postfix's sendmail takes it: clustered
// flags (-ti), values attached or separate (-faddr, -f addr, -oi, -F "Full Name"), -b
// modes (-bm -bs -bp), -q, DSN options (-N -R -V), -C FILE for the configuration, and the
// many flags accepted for compatibility and ignored. The first argument that is not an
// option (or everything after "--") starts the recipients.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "result.h"

namespace postern::cli {

enum class SendmailMode {
    Deliver,     // -bm (default): read a message on stdin and submit it
    Smtp,        // -bs: SMTP on stdin/stdout, relayed to postern
    ListQueue,   // -bp, or invoked as mailq
    FlushQueue,  // -q, -qR..., -qI...
    Nothing,     // -bi, -I, -q<interval>, ...: accepted, nothing to do
};

struct SendmailOptions {
    SendmailMode mode = SendmailMode::Deliver;
    std::optional<std::string> configFile;  // -C FILE
    std::optional<std::string> sender;      // -f / -r; "" for the null sender
    std::optional<std::string> fullName;    // -F
    bool extractRecipients = false;         // -t
    bool ignoreDots = false;                // -i, -oi: a lone "." does not end the input
    std::string notify;   // -N: NOTIFY= value, "NEVER" or SUCCESS,FAILURE,DELAY
    std::string ret;      // -R: "FULL" or "HDRS"
    std::string envid;    // -V
    std::string bodyType;  // -B: "7BIT" or "8BITMIME"
    std::string flushId;  // -qI<id>: flush this message only
    bool verbose = false;  // -v
    std::vector<std::string> recipients;
    std::vector<std::string> notes;  // what was ignored, for -v
};

// Parses argv[1..] (the program name excluded). The error says what is wrong (EX_USAGE).
Result<SendmailOptions> parseSendmailOptions(const std::vector<std::string>& args);

}  // namespace postern::cli
