// smtp_command.h: parses one SMTP command line received by smtpd (RFC 5321 section 4.1,
// with the ESMTP parameters of RFC 1870 SIZE, 6152 8BITMIME, 3030 CHUNKING/BINARYMIME,
// 3461 DSN, 6531 SMTPUTF8 and 4954 AUTH=). A line that does not parse gives the reply the
// server sends for it, with Postfix's wording where Postfix has one, so sessions never
// invent their own texts for syntax errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "address.h"
#include "smtp_reply.h"

namespace postern {

enum class Verb { helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, starttls, unknown };

// The verb's name in capitals ("MAIL"), "UNKNOWN" for Verb::unknown.
std::string_view verbName(Verb verb);

enum class BodyType { unspecified, sevenBit, eightBitMime, binaryMime };
enum class DsnReturn { unspecified, full, headers };

// The name used in queue files and IPC: "7BIT", "8BITMIME", "BINARYMIME" or "".
std::string_view bodyTypeName(BodyType body);
// The name used in queue files and IPC: "FULL", "HDRS" or "".
std::string_view dsnReturnName(DsnReturn ret);

// RFC 3461 NOTIFY values; 0 means the parameter was not given.
enum NotifyFlag : unsigned { notifyNever = 1, notifySuccess = 2, notifyFailure = 4, notifyDelay = 8 };

struct MailParameters {
    std::optional<uint64_t> size;     // SIZE=n
    BodyType body = BodyType::unspecified;
    bool smtputf8 = false;
    DsnReturn ret = DsnReturn::unspecified;
    std::optional<std::string> envid; // decoded ENVID (printable ASCII, at most 100)
    std::optional<std::string> auth;  // decoded AUTH= (accepted, validated, not used)
};

struct OriginalRecipient {
    std::string addressType;  // "rfc822" or "utf-8", lowercase
    std::string address;      // decoded (UTF-8 for "utf-8")
};

struct RcptParameters {
    unsigned notify = 0;                    // NotifyFlag bits
    std::optional<OriginalRecipient> orcpt; // ORCPT=type;value
};

struct SmtpCommand {
    Verb verb = Verb::unknown;
    std::string argument;  // what follows the verb, spaces around it removed
    Address path;          // MAIL, RCPT
    MailParameters mail;   // MAIL
    RcptParameters rcpt;   // RCPT
    uint64_t chunkSize = 0;  // BDAT
    bool lastChunk = false;  // BDAT ... LAST
};

// What the server offers this session: a parameter of an extension it does not offer is
// refused as unsupported. RCPT also needs to know whether MAIL declared SMTPUTF8.
struct CommandContext {
    bool offerSize = true;
    bool offerEightBitMime = true;
    bool offerBinaryMime = false;
    bool offerSmtputf8 = true;
    bool offerDsn = true;
    bool offerChunking = true;
    bool transactionSmtputf8 = false;  // the current MAIL FROM had SMTPUTF8
    AddressOptions addressOptions{};   // length leniency; smtputf8 is set by the parser
};

// A refused command: the reply to send, and a detail for the log.
struct CommandError {
    Verb verb = Verb::unknown;
    SmtpReply reply;
    std::string detail;
};

class CommandResult {
public:
    CommandResult(SmtpCommand command) : value_(std::move(command)) {}
    CommandResult(CommandError error) : value_(std::move(error)) {}

    bool ok() const { return value_.index() == 0; }
    const SmtpCommand& command() const { return std::get<0>(value_); }
    const CommandError& error() const { return std::get<1>(value_); }

private:
    std::variant<SmtpCommand, CommandError> value_;
};

// Parses one command line, CR LF already removed.
CommandResult parseCommand(std::string_view line, const CommandContext& context = {});

// True for a line that is another protocol talking to the SMTP port, not a mistyped
// command: an HTTP or proxy request (CONNECT, GET, POST), a header line ("Host: x"), or a
// first word that does not start with a letter (a TLS ClientHello, JSON). Postfix's
// smtpd_forbidden_commands default and header check; smtpd hangs up on it.
bool isNonSmtpCommand(std::string_view line);

}  // namespace postern
