// address.cpp: envelope address parsing and canonical form; see address.h.
#include "address.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>

#include "smtp_text.h"
#include "text_escape.h"
#include "utf8.h"

namespace postern {

namespace {

bool isAsciiAlnum(unsigned char c) { return c < 0x80 && std::isalnum(c); }

// RFC 5322 atext (ASCII part); RFC 6531 adds every non-ASCII UTF-8 character.
bool isAtext(unsigned char c) {
    return isAsciiAlnum(c) || (c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr) || c >= 0x80;
}

// True when local is a Dot-string: atoms of atext separated by single dots.
bool isDotString(std::string_view local) {
    if (local.empty() || local.front() == '.' || local.back() == '.') return false;
    for (size_t i = 0; i < local.size(); ++i) {
        const auto c = static_cast<unsigned char>(local[i]);
        if (c == '.' ? local[i + 1] == '.' : !isAtext(c)) return false;
    }
    return true;
}

// Refuses bytes that never belong in a path, whatever the position.
Status checkCharacters(std::string_view text, const AddressOptions& options) {
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F)
            return fail("control character in address: " + printable(std::string_view(&ch, 1)));
    }
    if (hasNonAscii(text)) {
        if (!options.smtputf8) return fail("non-ASCII character in address without SMTPUTF8");
        if (!isValidUtf8(text)) return fail("malformed UTF-8 in address");
    }
    return {};
}

// Parses a quoted local part starting at text[0] == '"'; stores the unquoted value and
// returns the length of the quoted string, quotes included.
Result<size_t> parseQuotedLocal(std::string_view text, std::string& local) {
    for (size_t i = 1; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (++i == text.size()) break;
            if (static_cast<unsigned char>(text[i]) >= 0x80) return fail("bad quoted pair in local part");
        }
        local += text[i];
    }
    return fail("unbalanced quote in local part");
}

// Parses an unquoted local part (dots are taken leniently, as Postfix does: "a..b" and
// ".a" are kept and later written quoted); returns its length.
Result<size_t> parseUnquotedLocal(std::string_view text, std::string& local) {
    size_t i = 0;
    for (; i < text.size() && text[i] != '@'; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == ' ') return fail("space in address outside quotes");
        if (c == '"') return fail("misplaced quote in local part");
        if (c != '.' && !isAtext(c)) return fail(std::string("character not allowed in local part: ") + text[i]);
    }
    if (i == 0) return fail("empty local part");
    local.assign(text.substr(0, i));
    return i;
}

// Checks one label of a domain name (ASCII LDH with '_' tolerated, or a UTF-8 U-label).
Status checkLabel(std::string_view label) {
    if (label.empty()) return fail("empty label in domain");
    if (label.size() > 63) return fail("domain label longer than 63 octets");
    if (label.front() == '-' || label.back() == '-') return fail("domain label starts or ends with '-'");
    for (char ch : label) {
        const auto c = static_cast<unsigned char>(ch);
        if (!isAsciiAlnum(c) && c != '-' && c != '_' && c < 0x80) {
            if (c == ' ') return fail("space in address outside quotes");
            return fail("character not allowed in domain: " + printable(std::string_view(&ch, 1)));
        }
    }
    return {};
}

Status checkDomainName(std::string_view domain) {
    if (domain.empty()) return fail("empty domain");
    if (domain.size() > kMaxDomainLength) return fail("domain longer than 255 octets");
    for (size_t start = 0;;) {
        const size_t dot = domain.find('.', start);
        auto label = checkLabel(domain.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (!label) return label;
        if (dot == std::string_view::npos) return {};
        start = dot + 1;
    }
}

bool isIpv4Literal(std::string_view text) {
    int parts = 0;
    for (size_t start = 0; start <= text.size(); ++parts) {
        size_t end = text.find('.', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view part = text.substr(start, end - start);
        if (part.empty() || part.size() > 3) return false;
        int value = 0;
        for (char c : part) {
            if (c < '0' || c > '9') return false;
            value = value * 10 + (c - '0');
        }
        if (value > 255) return false;
        start = end + 1;
    }
    return parts == 4;
}

// Checks an address literal, brackets included: IPv4 or "IPv6:" only.
Status checkAddressLiteral(std::string_view literal) {
    if (literal.size() < 2 || literal.back() != ']') return fail("unbalanced brackets in domain literal");
    const std::string_view inner = literal.substr(1, literal.size() - 2);
    if (inner.find_first_of("[]\\") != std::string_view::npos) return fail("unbalanced brackets in domain literal");
    if (isIpv4Literal(inner)) return {};
    if (inner.size() > 5 && startsWithIgnoringCase(inner, "IPv6:")) {
        const std::string ip(inner.substr(5));
        in6_addr parsed{};
        if (inet_pton(AF_INET6, ip.c_str(), &parsed) == 1) return {};
        return fail("bad IPv6 address literal");
    }
    if (inner.find(':') != std::string_view::npos) return fail("unsupported address literal");
    return fail("bad IPv4 address literal");
}

Status checkDomain(std::string_view domain) {
    if (!domain.empty() && domain.front() == '[') return checkAddressLiteral(domain);
    if (domain.find_first_of("[]") != std::string_view::npos) return fail("unbalanced brackets in domain");
    return checkDomainName(domain);
}

// Checks "@d1,@d2" (the part of a source route before ':').
Status checkSourceRoute(std::string_view route) {
    for (size_t start = 0;;) {
        const size_t comma = route.find(',', start);
        const std::string_view hop = route.substr(start, comma == std::string_view::npos ? comma : comma - start);
        if (hop.empty() || hop.front() != '@') return fail("bad source route");
        auto domain = checkDomainName(hop.substr(1));
        if (!domain) return fail("bad source route: " + domain.error());
        if (comma == std::string_view::npos) return {};
        start = comma + 1;
    }
}

Result<Address> parseCheckedMailbox(std::string_view text, const AddressOptions& options) {
    Address address;
    auto localLength = !text.empty() && text.front() == '"' ? parseQuotedLocal(text, address.local)
                                                             : parseUnquotedLocal(text, address.local);
    if (!localLength) return localLength.failure();
    if (!options.lenientLength && *localLength > kMaxLocalPartLength) return fail("local part longer than 64 octets");
    if (*localLength == text.size()) return fail("missing domain");
    if (text[*localLength] != '@') return fail("junk after quoted local part");
    address.domain.assign(text.substr(*localLength + 1));
    auto domain = checkDomain(address.domain);
    if (!domain) return domain.failure();
    return address;
}

}  // namespace

std::string Address::toString() const {
    if (domain.empty()) return local.empty() ? std::string() : quoteLocalPart(local);
    return quoteLocalPart(local) + "@" + domain;
}

std::string Address::routingDomain() const {
    std::string lowered = domain;
    for (char& c : lowered)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return lowered;
}

bool Address::needsSmtpUtf8() const { return hasNonAscii(local) || hasNonAscii(domain); }

std::string quoteLocalPart(std::string_view local) {
    if (isDotString(local)) return std::string(local);
    std::string quoted = "\"";
    for (char c : local) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "\"";
}

bool pathNeedsSmtpUtf8(std::string_view text) { return hasNonAscii(text); }

Result<Address> parseMailbox(std::string_view text, const AddressOptions& options) {
    auto characters = checkCharacters(text, options);
    if (!characters) return characters.failure();
    return parseCheckedMailbox(text, options);
}

Result<Address> parsePath(std::string_view text, PathType type, const AddressOptions& options) {
    auto characters = checkCharacters(text, options);
    if (!characters) return characters.failure();
    if (!options.lenientLength && text.size() > kMaxPathLength) return fail("path longer than 256 octets");
    std::string_view inner = text;
    if (!text.empty() && text.front() == '<') {
        if (text.size() < 2 || text.back() != '>') return fail("unbalanced angle brackets");
        inner = text.substr(1, text.size() - 2);
    } else if (options.requireBrackets || text.empty()) {
        return fail("address must be enclosed in <>");
    }
    if (inner.empty()) {
        if (type == PathType::reverse) return Address{};
        return fail("null recipient address");
    }
    if (inner.front() == '@') {
        const size_t colon = inner.find(':');
        if (colon == std::string_view::npos) return fail("bad source route");
        auto route = checkSourceRoute(inner.substr(0, colon));
        if (!route) return route.failure();
        inner.remove_prefix(colon + 1);
    } else if (type == PathType::forward && equalsIgnoringCase(inner, "postmaster")) {
        return Address{std::string(inner), ""};
    }
    return parseCheckedMailbox(inner, options);
}

}  // namespace postern
