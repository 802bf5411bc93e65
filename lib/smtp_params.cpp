// smtp_params.cpp: ESMTP parameters of MAIL and RCPT; see smtp_params.h.
#include "smtp_params.h"

#include <set>
#include <string>

#include "smtp_text.h"
#include "utf8.h"
#include "xtext.h"

namespace postern {

namespace {

constexpr size_t kMaxEnvidLength = 100;  // RFC 3461 section 4.4
constexpr size_t kMaxOrcptLength = 500;  // RFC 3461 section 4.2
constexpr size_t kMaxAuthLength = 500;   // RFC 4954 sets none; Postfix-sized sanity bound

struct Parameter {
    std::string keyword;   // uppercased
    std::string_view value;
    bool hasValue = false;
    std::string_view word; // as the client wrote it, for replies
};

// RFC 5321 esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool isEsmtpKeyword(std::string_view keyword) {
    if (keyword.empty() || keyword.front() == '-') return false;
    for (char c : keyword)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

CommandError refusal(Verb verb, int code, const char* enhanced, std::string text) {
    CommandError error{verb, makeReply(code, enhanced, text), {}};
    error.detail = error.reply.printable();
    return error;
}

CommandError badSyntax(Verb verb, const char* what) {
    return refusal(verb, 501, "5.5.4", std::string("Bad ") + what + " parameter syntax");
}

// Splits the words into parameters, refusing malformed keywords and duplicates.
std::optional<CommandError> splitParameters(Verb verb, const std::vector<std::string_view>& words,
                                            std::vector<Parameter>& out) {
    std::set<std::string> seen;
    for (std::string_view word : words) {
        const size_t equals = word.find('=');
        Parameter parameter{asciiUppercase(word.substr(0, equals)), {}, equals != std::string_view::npos, word};
        if (parameter.hasValue) parameter.value = word.substr(equals + 1);
        if (!isEsmtpKeyword(parameter.keyword)) return unsupportedOption(verb, word);
        if (!seen.insert(parameter.keyword).second)
            return refusal(verb, 501, "5.5.4", "Duplicate option: " + parameter.keyword);
        out.push_back(parameter);
    }
    return std::nullopt;
}

// Decodes xtext and checks the result is printable ASCII (ENVID, AUTH).
std::optional<std::string> decodePrintableXtext(std::string_view value, size_t maxLength) {
    auto decoded = decodeXtext(value);
    if (!decoded || decoded->empty() || decoded->size() > maxLength) return std::nullopt;
    for (char c : *decoded)
        if (c < 0x20 || c > 0x7E) return std::nullopt;
    return std::move(decoded.value());
}

std::optional<CommandError> takeBody(const Parameter& p, const CommandContext& context, MailParameters& params) {
    const std::string value = asciiUppercase(p.value);
    if (value == "7BIT") {
        params.body = BodyType::sevenBit;
    } else if (value == "8BITMIME") {
        if (!context.offerEightBitMime) return unsupportedOption(Verb::mail, p.word);
        params.body = BodyType::eightBitMime;
    } else if (value == "BINARYMIME") {
        if (!context.offerBinaryMime) return unsupportedOption(Verb::mail, p.word);
        params.body = BodyType::binaryMime;
    } else {
        return refusal(Verb::mail, 501, "5.5.4", "Bad BODY keyword: " + std::string(p.word));
    }
    return std::nullopt;
}

std::optional<CommandError> takeMailParameter(const Parameter& p, const CommandContext& context,
                                              MailParameters& params) {
    const std::string& key = p.keyword;
    const bool dsnKey = key == "RET" || key == "ENVID";
    if ((key == "SIZE" && !context.offerSize) || (key == "SMTPUTF8" && !context.offerSmtputf8) ||
        (dsnKey && !context.offerDsn))
        return unsupportedOption(Verb::mail, p.word);
    if (key == "SMTPUTF8") {
        if (p.hasValue) return unsupportedOption(Verb::mail, p.word);
        params.smtputf8 = true;
        return std::nullopt;
    }
    if (key != "SIZE" && key != "BODY" && !dsnKey && key != "AUTH") return unsupportedOption(Verb::mail, p.word);
    if (key == "SIZE") {
        params.size = parseDecimal(p.value);
        if (!params.size) return refusal(Verb::mail, 501, "5.5.4", "Bad message size syntax");
    } else if (key == "BODY") {
        return takeBody(p, context, params);
    } else if (key == "RET") {
        const std::string value = asciiUppercase(p.value);
        if (value != "FULL" && value != "HDRS") return badSyntax(Verb::mail, "RET");
        params.ret = value == "FULL" ? DsnReturn::full : DsnReturn::headers;
    } else if (key == "ENVID") {
        params.envid = decodePrintableXtext(p.value, kMaxEnvidLength);
        if (!params.envid) return badSyntax(Verb::mail, "ENVID");
    } else {
        params.auth = decodePrintableXtext(p.value, kMaxAuthLength);
        if (!params.auth) return badSyntax(Verb::mail, "AUTH");
    }
    return std::nullopt;
}

// NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 section 4.1).
std::optional<unsigned> parseNotify(std::string_view value) {
    if (equalsIgnoringCase(value, "NEVER")) return notifyNever;
    unsigned flags = 0;
    for (size_t start = 0;;) {
        const size_t comma = value.find(',', start);
        const std::string item = asciiUppercase(value.substr(start, comma == std::string_view::npos ? comma : comma - start));
        if (item == "SUCCESS") flags |= notifySuccess;
        else if (item == "FAILURE") flags |= notifyFailure;
        else if (item == "DELAY") flags |= notifyDelay;
        else return std::nullopt;
        if (comma == std::string_view::npos) return flags;
        start = comma + 1;
    }
}

// True when a decoded original recipient is safe to keep: no controls, valid UTF-8.
bool isCleanAddress(std::string_view address, bool utf8) {
    if (address.empty() || address.size() > kMaxOrcptLength) return false;
    for (char ch : address) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F || (!utf8 && c >= 0x80)) return false;
    }
    return isValidUtf8(address);
}

// ORCPT=rfc822;xtext or ORCPT=utf-8;utf-8-addr-xtext (RFC 3461 4.2, RFC 6533 3).
std::optional<OriginalRecipient> parseOrcpt(std::string_view value, bool smtputf8) {
    const size_t semicolon = value.find(';');
    if (semicolon == std::string_view::npos || value.size() > kMaxOrcptLength) return std::nullopt;
    const std::string_view type = value.substr(0, semicolon);
    const std::string_view encoded = value.substr(semicolon + 1);
    OriginalRecipient orcpt;
    if (equalsIgnoringCase(type, "rfc822")) {
        auto decoded = decodeXtext(encoded);
        if (!decoded || !isCleanAddress(*decoded, false)) return std::nullopt;
        orcpt = {"rfc822", std::move(decoded.value())};
    } else if (equalsIgnoringCase(type, "utf-8")) {
        auto decoded = decodeUtf8AddrXtext(encoded, smtputf8);
        if (!decoded || !isCleanAddress(*decoded, true)) return std::nullopt;
        orcpt = {"utf-8", std::move(decoded.value())};
    } else {
        return std::nullopt;
    }
    return orcpt;
}

std::optional<CommandError> takeRcptParameter(const Parameter& p, const CommandContext& context,
                                              RcptParameters& params) {
    if ((p.keyword != "NOTIFY" && p.keyword != "ORCPT") || !context.offerDsn)
        return unsupportedOption(Verb::rcpt, p.word);
    if (p.keyword == "NOTIFY") {
        const auto flags = parseNotify(p.value);
        if (!flags) return badSyntax(Verb::rcpt, "NOTIFY");
        params.notify = *flags;
    } else {
        params.orcpt = parseOrcpt(p.value, context.transactionSmtputf8);
        if (!params.orcpt) return badSyntax(Verb::rcpt, "ORCPT");
    }
    return std::nullopt;
}

// Splits the words, then hands each parameter to take (which checks and stores it).
template <typename Params, typename Take>
std::optional<CommandError> parseParameters(Verb verb, const std::vector<std::string_view>& words,
                                            const CommandContext& context, Params& params, Take take) {
    std::vector<Parameter> parameters;
    if (auto error = splitParameters(verb, words, parameters)) return error;
    for (const auto& parameter : parameters)
        if (auto error = take(parameter, context, params)) return error;
    return std::nullopt;
}

}  // namespace

CommandError unsupportedOption(Verb verb, std::string_view word) {
    return refusal(verb, 555, "5.5.4", "Unsupported option: " + std::string(word));
}

std::optional<CommandError> parseMailParameters(const std::vector<std::string_view>& words,
                                                const CommandContext& context, MailParameters& params) {
    return parseParameters(Verb::mail, words, context, params, takeMailParameter);
}

std::optional<CommandError> parseRcptParameters(const std::vector<std::string_view>& words,
                                                const CommandContext& context, RcptParameters& params) {
    return parseParameters(Verb::rcpt, words, context, params, takeRcptParameter);
}

}  // namespace postern
