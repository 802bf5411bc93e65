// sendmail_message.cpp: reading and preparing sendmail's message (see sendmail_message.h).
#include "sendmail_message.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "header_fields.h"

namespace postern::cli {

namespace {

bool isLoneDot(std::string_view line) { return line == "." || line == ".\r"; }

// One header field as it was written, continuation lines and line ends included.
struct HeaderField {
    std::string name;  // as written, before the colon
    std::string raw;
};

bool sameName(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The value of a field with its line breaks removed (unfolded).
std::string unfoldedValue(const HeaderField& field) {
    std::string value = field.raw.substr(field.name.size() + 1);
    std::erase_if(value, [](char c) { return c == '\r' || c == '\n'; });
    return value;
}

bool isAtext(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-/=?^_`{|}~ ", c);
}

std::string trim(std::string_view text) {
    size_t start = text.find_first_not_of(" \t");
    if (start == std::string_view::npos) return "";
    size_t end = text.find_last_not_of(" \t");
    return std::string(text.substr(start, end - start + 1));
}

// The display name as an RFC 5322 phrase: atoms as they are, a quoted string when it
// has specials, RFC 2047 base64 when it is not ASCII.
std::string phrase(const std::string& name) {
    bool ascii = true, plain = true;
    for (char c : name) {
        if (static_cast<unsigned char>(c) >= 0x80 || c < ' ') ascii = false;
        if (!isAtext(c)) plain = false;
    }
    if (!ascii) {
        std::string encoded(4 * ((name.size() + 2) / 3) + 1, '\0');
        int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(name.data()),
                                     static_cast<int>(name.size()));
        encoded.resize(static_cast<size_t>(length));
        return "=?UTF-8?B?" + encoded + "?=";
    }
    if (plain) return name;
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "\"";
}

}  // namespace

Result<std::string> readMessage(int fd, bool ignoreDots, uint64_t maxBytes) {
    std::string message;
    size_t lineStart = 0;  // start of the line not yet checked for a lone dot
    char chunk[65536];
    for (;;) {
        ssize_t got = ::read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail(std::string("read standard input: ") + std::strerror(errno));
        if (got == 0) break;
        message.append(chunk, static_cast<size_t>(got));
        if (maxBytes != 0 && message.size() > maxBytes) return fail(kMessageTooBig);
        if (ignoreDots) continue;
        for (size_t end; (end = message.find('\n', lineStart)) != std::string::npos;
             lineStart = end + 1) {
            if (isLoneDot(std::string_view(message).substr(lineStart, end - lineStart))) {
                message.resize(lineStart);
                return message;
            }
        }
    }
    if (!ignoreDots && isLoneDot(std::string_view(message).substr(lineStart)))
        message.resize(lineStart);
    return message;
}

std::vector<std::string> parseAddressList(std::string_view value) {
    std::vector<std::string> addresses;
    std::string text, angle;  // the element without comments; the <...> part if any
    bool inQuotes = false, inAngle = false, sawAngle = false;
    int commentDepth = 0;
    auto finishElement = [&] {
        std::string address = trim(sawAngle ? angle : text);
        if (!address.empty()) addresses.push_back(address);
        text.clear();
        angle.clear();
        sawAngle = false;
    };
    for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        std::string& target = inAngle ? angle : text;
        if (commentDepth > 0) {
            if (c == '\\') ++i;
            else if (c == '(') ++commentDepth;
            else if (c == ')') --commentDepth;
        } else if (inQuotes) {
            target += c;
            if (c == '\\' && i + 1 < value.size()) target += value[++i];
            else if (c == '"') inQuotes = false;
        } else if (c == '"') {
            target += c;
            inQuotes = true;
        } else if (c == '(') {
            commentDepth = 1;
        } else if (inAngle) {
            if (c == '>') inAngle = false;
            else angle += c;
        } else if (c == '<') {
            inAngle = sawAngle = true;
            angle.clear();
        } else if (c == ':') {
            text.clear();  // "group name:" — the name is not an address
        } else if (c == ',' || c == ';') {
            finishElement();
        } else {
            text += c;
        }
    }
    finishElement();
    return addresses;
}

PreparedMessage prepareMessage(std::string input, const PrepareOptions& options) {
    std::vector<HeaderField> fields;
    size_t at = 0;
    bool separated = false;  // an empty line ends the header
    while (at < input.size()) {
        size_t end = input.find('\n', at);
        size_t next = end == std::string::npos ? input.size() : end + 1;
        std::string_view line = std::string_view(input).substr(at, next - at);
        std::string_view bare = line.substr(0, line.find_first_of("\r\n"));
        if (bare.empty()) {
            separated = true;
            break;
        }
        if (isHeaderContinuation(line) && !fields.empty()) {
            fields.back().raw += line;
        } else if (std::string_view name = headerFieldName(bare); !name.empty()) {
            fields.push_back({std::string(name), std::string(line)});
        } else {
            break;  // the body starts without an empty line
        }
        at = next;
    }
    std::string body = input.substr(at);

    PreparedMessage prepared;
    bool hasFrom = false;
    for (const auto& field : fields) {
        bool isBcc = sameName(field.name, "Bcc");
        if (options.extractRecipients &&
            (sameName(field.name, "To") || sameName(field.name, "Cc") || isBcc)) {
            for (auto& address : parseAddressList(unfoldedValue(field)))
                prepared.headerRecipients.push_back(std::move(address));
        }
        if (sameName(field.name, "From")) hasFrom = true;
        if (options.extractRecipients && isBcc) continue;
        prepared.content += field.raw;  // only the input's last line may lack its line end
    }
    if (!hasFrom) {
        std::string address = options.fromAddress.empty() ? "MAILER-DAEMON" : options.fromAddress;
        if (!prepared.content.empty() && !prepared.content.ends_with("\n"))
            prepared.content += "\r\n";
        prepared.content += formatFromHeader(address, options.fullName);
        if (!separated && !body.empty()) prepared.content += "\r\n";
    }
    prepared.content += body;
    return prepared;
}

std::string qualifyAddress(const std::string& address, const std::string& myorigin) {
    if (address.empty() || address.find('@') != std::string::npos || myorigin.empty())
        return address;
    return address + "@" + myorigin;
}

std::string formatFromHeader(const std::string& address, const std::string& fullName) {
    if (fullName.empty()) return "From: " + address + "\r\n";
    return "From: " + phrase(fullName) + " <" + address + ">\r\n";
}

}  // namespace postern::cli
