// sendmail_options.cpp: Sendmail's command line (see sendmail_options.h). Flags are read
// getopt-style: a flag that takes a value takes the rest of its word, or the next word.
#include "sendmail_options.h"

#include <algorithm>
#include <cstring>

namespace postern::cli {

namespace {

// Flags with a value. -b, -o and -q take theirs only from the same word (-q alone is a flush).
constexpr const char* kFlagsWithValue = "ABCFfhLNOpRrVXd";
// Flags without a value that Sendmail or Postfix know and postern ignores.
constexpr const char* kIgnoredFlags = "GmnUx";

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

// -N: "never", or a comma-separated mix of success, failure, delay.
Result<std::string> parseNotify(const std::string& value) {
    std::string text = upper(value);
    text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
    if (text == "NEVER") return text;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = std::min(text.find(',', start), text.size());
        std::string word = text.substr(start, comma - start);
        if (word != "SUCCESS" && word != "FAILURE" && word != "DELAY")
            return fail("-N: \"" + value + "\" is not never or a list of success, failure, delay");
        start = comma + 1;
    }
    return text;
}

class Parser {
public:
    explicit Parser(SendmailOptions& options) : options_(options) {}

    // Applies one flag and its value (empty for flags without one).
    Status apply(char flag, const std::string& value) {
        switch (flag) {
            case 'b': return mode(value);
            case 'o': return option(value);
            case 'q': return queue(value);
            case 'C': options_.configFile = value; return {};
            case 'F': options_.fullName = value; return {};
            case 'f':
            case 'r': options_.sender = value == "<>" ? "" : value; return {};
            case 'N': return assign(options_.notify, parseNotify(value));
            case 'R': return assign(options_.ret, returnContent(value));
            case 'V': options_.envid = value; return {};
            case 'B': return assign(options_.bodyType, bodyType(value));
            case 't': options_.extractRecipients = true; return {};
            case 'i': options_.ignoreDots = true; return {};
            case 'v': options_.verbose = true; return {};
            case 'I': options_.mode = SendmailMode::Nothing; return {};
            default:
                options_.notes.push_back(std::string("ignored -") + flag + value);
                return {};
        }
    }

private:
    static Status assign(std::string& field, Result<std::string> value) {
        if (!value) return value.failure();
        field = value.value();
        return {};
    }

    static Result<std::string> returnContent(const std::string& value) {
        std::string text = upper(value);
        if (text == "FULL" || text == "HDRS") return text;
        return fail("-R: \"" + value + "\" is neither full nor hdrs");
    }

    static Result<std::string> bodyType(const std::string& value) {
        std::string text = upper(value);
        if (text == "7BIT" || text == "8BITMIME") return text;
        return fail("-B: \"" + value + "\" is neither 7BIT nor 8BITMIME");
    }

    Status mode(const std::string& value) {
        if (value == "m") options_.mode = SendmailMode::Deliver;
        else if (value == "s") options_.mode = SendmailMode::Smtp;
        else if (value == "p") options_.mode = SendmailMode::ListQueue;
        else if (value == "i" || value == "h" || value == "H") options_.mode = SendmailMode::Nothing;
        else if (value == "d") return fail("-bd: start postern with \"postern start\"");
        else return fail("-b" + value + ": unsupported mode");
        return {};
    }

    Status option(const std::string& value) {
        if (value == "i") options_.ignoreDots = true;
        else options_.notes.push_back("ignored -o" + value);
        return {};
    }

    Status queue(const std::string& value) {
        if (value.empty() || value.starts_with("R")) {
            options_.mode = SendmailMode::FlushQueue;  // -qRsite: we flush everything
        } else if (value.starts_with("I")) {
            options_.mode = SendmailMode::FlushQueue;
            options_.flushId = value.substr(1);
        } else {
            options_.mode = SendmailMode::Nothing;  // -q1h: a queue run interval
            options_.notes.push_back("ignored -q" + value);
        }
        return {};
    }

    SendmailOptions& options_;
};

}  // namespace

Result<SendmailOptions> parseSendmailOptions(const std::vector<std::string>& args) {
    SendmailOptions options;
    Parser parser(options);
    size_t next = 0;
    for (; next < args.size(); ++next) {
        const std::string& word = args[next];
        if (word == "--") {
            ++next;
            break;
        }
        if (word.size() < 2 || word[0] != '-') break;
        for (size_t at = 1; at < word.size(); ++at) {
            char flag = word[at];
            std::string rest = word.substr(at + 1);
            bool takesValue = std::strchr(kFlagsWithValue, flag) != nullptr;
            if (flag == 'b' || flag == 'o' || flag == 'q' || (takesValue && !rest.empty())) {
                if ((flag == 'b' || flag == 'o') && rest.empty())
                    return fail(std::string("-") + flag + " needs a value");
                if (auto applied = parser.apply(flag, rest); !applied) return applied.failure();
                break;
            }
            if (takesValue) {
                if (++next >= args.size()) return fail(std::string("-") + flag + " needs a value");
                if (auto applied = parser.apply(flag, args[next]); !applied)
                    return applied.failure();
                break;
            }
            if (!std::strchr("tivI", flag) && !std::strchr(kIgnoredFlags, flag))
                return fail(std::string("invalid option -- '") + flag + "'");
            if (auto applied = parser.apply(flag, ""); !applied) return applied.failure();
        }
    }
    options.recipients.assign(args.begin() + static_cast<long>(next), args.end());
    return options;
}

}  // namespace postern::cli
