// smtp_command.cpp: SMTP command line parsing for smtpd; see smtp_command.h.
#include "smtp_command.h"

#include <array>
#include <utility>
#include <vector>

#include "smtp_params.h"
#include "smtp_text.h"

namespace postern {

namespace {

struct VerbEntry {
    std::string_view name;
    Verb verb;
};

constexpr std::array<VerbEntry, 12> kVerbs{{
    {"HELO", Verb::helo}, {"EHLO", Verb::ehlo}, {"MAIL", Verb::mail}, {"RCPT", Verb::rcpt},
    {"DATA", Verb::data}, {"BDAT", Verb::bdat}, {"RSET", Verb::rset}, {"NOOP", Verb::noop},
    {"QUIT", Verb::quit}, {"VRFY", Verb::vrfy}, {"HELP", Verb::help}, {"STARTTLS", Verb::starttls},
}};

bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
    while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
    while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
    return text;
}

std::vector<std::string_view> splitWords(std::string_view text) {
    std::vector<std::string_view> words;
    for (size_t pos = 0; pos < text.size();) {
        if (isSpace(text[pos])) {
            ++pos;
            continue;
        }
        size_t end = pos;
        while (end < text.size() && !isSpace(text[end])) ++end;
        words.push_back(text.substr(pos, end - pos));
        pos = end;
    }
    return words;
}

CommandError refuse(Verb verb, int code, const char* enhanced, std::string_view text, std::string detail = {}) {
    CommandError error{verb, makeReply(code, enhanced, text), std::move(detail)};
    if (error.detail.empty()) error.detail = error.reply.printable();
    return error;
}

// Finds where a path written after "FROM:" or "TO:" ends: after the '>' that closes the
// '<' (quoted strings may hold '>' and spaces), or at the first space for a bare address.
// Returns npos when a '<' is never closed.
size_t pathEnd(std::string_view text) {
    if (text.empty() || text.front() != '<') {
        size_t end = 0;
        while (end < text.size() && !isSpace(text[end])) ++end;
        return end;
    }
    bool quoted = false;
    for (size_t i = 1; i < text.size(); ++i) {
        if (quoted && text[i] == '\\') ++i;
        else if (text[i] == '"') quoted = !quoted;
        else if (!quoted && text[i] == '>') return i + 1;
    }
    return std::string_view::npos;
}

struct PathSyntax {
    const char* keyword;     // "FROM:" or "TO:"
    const char* usage;       // the reply text for a missing path
    const char* badEnhanced; // "5.1.7" or "5.1.3"
    const char* badText;
    PathType type;
};

constexpr PathSyntax kMailSyntax{"FROM:", "Syntax: MAIL FROM:<address>", "5.1.7", "Bad sender address syntax",
                                 PathType::reverse};
constexpr PathSyntax kRcptSyntax{"TO:", "Syntax: RCPT TO:<address>", "5.1.3", "Bad recipient address syntax",
                                 PathType::forward};

// Parses "FROM:<path> params" / "TO:<path> params" of MAIL and RCPT.
CommandResult parsePathCommand(SmtpCommand command, const PathSyntax& syntax, const CommandContext& context) {
    const Verb verb = command.verb;
    std::string_view rest = command.argument;
    if (!startsWithIgnoringCase(rest, syntax.keyword)) return refuse(verb, 501, "5.5.4", syntax.usage);
    rest = trim(rest.substr(std::string_view(syntax.keyword).size()));  // Postfix: "FROM: <a@b>"
    if (rest.empty()) return refuse(verb, 501, "5.5.4", syntax.usage);
    const size_t end = pathEnd(rest);
    if (end == std::string_view::npos || (end < rest.size() && !isSpace(rest[end])))
        return refuse(verb, 501, syntax.badEnhanced, syntax.badText, "unbalanced angle brackets or junk after path");
    const std::string_view pathText = rest.substr(0, end);
    const auto words = splitWords(rest.substr(end));
    std::optional<CommandError> paramError =
        verb == Verb::mail ? parseMailParameters(words, context, command.mail)
                           : parseRcptParameters(words, context, command.rcpt);
    if (paramError) return *paramError;
    AddressOptions options = context.addressOptions;
    options.smtputf8 = verb == Verb::mail ? command.mail.smtputf8 : context.transactionSmtputf8;
    if (!options.smtputf8 && pathNeedsSmtpUtf8(pathText))
        return refuse(verb, 553, "5.6.7", "Must declare SMTPUTF8 to send unicode address");
    auto address = parsePath(pathText, syntax.type, options);
    if (!address) return refuse(verb, 501, syntax.badEnhanced, syntax.badText, address.error());
    command.path = std::move(address.value());
    return command;
}

// BDAT chunk-size [LAST] (RFC 3030 section 2).
CommandResult parseBdat(SmtpCommand command, const CommandContext& context) {
    if (!context.offerChunking) return refuse(Verb::bdat, 502, "5.5.2", "Error: command not recognized");
    const auto words = splitWords(command.argument);
    const auto size = words.empty() ? std::nullopt : parseDecimal(words[0]);
    const bool last = words.size() == 2 && equalsIgnoringCase(words[1], "LAST");
    if (!size || words.size() > 2 || (words.size() == 2 && !last))
        return refuse(Verb::bdat, 501, "5.5.4", "Syntax: BDAT count [LAST]");
    command.chunkSize = *size;
    command.lastChunk = last;
    return command;
}

// Checks the argument of the verbs that take a fixed form.
CommandResult checkSimpleArgument(SmtpCommand command) {
    const bool empty = command.argument.empty();
    switch (command.verb) {
        case Verb::helo:
            if (empty) return refuse(command.verb, 501, "", "Syntax: HELO hostname");
            break;
        case Verb::ehlo:
            if (empty) return refuse(command.verb, 501, "", "Syntax: EHLO hostname");
            break;
        case Verb::vrfy:
            if (empty) return refuse(command.verb, 501, "5.5.4", "Syntax: VRFY address");
            break;
        case Verb::data:
        case Verb::rset:
        case Verb::starttls:
            if (!empty) return refuse(command.verb, 501, "5.5.4", "Syntax: " + std::string(verbName(command.verb)));
            break;
        default:
            break;
    }
    return command;
}

bool hasControlCharacter(std::string_view line) {
    for (char c : line)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) return true;
    return false;
}

}  // namespace

std::string_view verbName(Verb verb) {
    for (const auto& entry : kVerbs)
        if (entry.verb == verb) return entry.name;
    return "UNKNOWN";
}

std::string_view bodyTypeName(BodyType body) {
    switch (body) {
        case BodyType::sevenBit: return "7BIT";
        case BodyType::eightBitMime: return "8BITMIME";
        case BodyType::binaryMime: return "BINARYMIME";
        case BodyType::unspecified: break;
    }
    return "";
}

std::string_view dsnReturnName(DsnReturn ret) {
    switch (ret) {
        case DsnReturn::full: return "FULL";
        case DsnReturn::headers: return "HDRS";
        case DsnReturn::unspecified: break;
    }
    return "";
}

CommandResult parseCommand(std::string_view line, const CommandContext& context) {
    if (hasControlCharacter(line)) return refuse(Verb::unknown, 500, "5.5.2", "Error: bad syntax", "control character in command");
    const std::string_view trimmed = trim(line);
    if (trimmed.empty()) return refuse(Verb::unknown, 500, "5.5.2", "Error: bad syntax", "empty command");
    size_t verbEnd = 0;
    while (verbEnd < trimmed.size() && !isSpace(trimmed[verbEnd])) ++verbEnd;
    SmtpCommand command;
    for (const auto& entry : kVerbs)
        if (equalsIgnoringCase(trimmed.substr(0, verbEnd), entry.name)) command.verb = entry.verb;
    if (command.verb == Verb::unknown) return refuse(Verb::unknown, 502, "5.5.2", "Error: command not recognized");
    command.argument = trim(trimmed.substr(verbEnd));
    switch (command.verb) {
        case Verb::mail: return parsePathCommand(std::move(command), kMailSyntax, context);
        case Verb::rcpt: return parsePathCommand(std::move(command), kRcptSyntax, context);
        case Verb::bdat: return parseBdat(std::move(command), context);
        default: return checkSimpleArgument(std::move(command));
    }
}

bool isNonSmtpCommand(std::string_view line) {
    const std::string_view trimmed = trim(line);
    size_t wordEnd = 0;
    while (wordEnd < trimmed.size() && !isSpace(trimmed[wordEnd])) ++wordEnd;
    const std::string_view word = trimmed.substr(0, wordEnd);
    if (word.empty()) return false;  // an empty command is a syntax error, not a protocol
    const char first = word.front();
    if (!((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z'))) return true;
    for (std::string_view forbidden : {"CONNECT", "GET", "POST"})
        if (equalsIgnoringCase(word, forbidden)) return true;
    // A header field: a name of printable characters, then ':' ("Host:", "User-Agent:x").
    const size_t colon = word.find(':');
    if (colon == std::string_view::npos) return false;
    for (char c : word.substr(0, colon))
        if (c < 33 || c > 126) return false;
    return true;
}

}  // namespace postern
