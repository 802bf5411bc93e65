// ipc.cpp: encoding, strict decoding and typed reading of framed attribute messages.
// The frame layout is in ipc.h and docs/IPC.md.
#include "ipc.h"

#include <charconv>
#include <unordered_set>

#include "log.h"

namespace postern::ipc {
namespace {

// Smallest encoded attribute: name length, a one-byte name, value length.
constexpr size_t kMinAttributeBytes = 1 + 1 + 4;

void putU8(std::string& out, uint8_t v) {
    out += static_cast<char>(v);
}
void putU16(std::string& out, uint16_t v) {
    putU8(out, static_cast<uint8_t>(v >> 8));
    putU8(out, static_cast<uint8_t>(v));
}
void putU32(std::string& out, uint32_t v) {
    putU16(out, static_cast<uint16_t>(v >> 16));
    putU16(out, static_cast<uint16_t>(v));
}

// Reads big-endian integers and byte runs from a body; every read says whether the bytes
// were there.
class Cursor {
  public:
    explicit Cursor(std::string_view data) : data_(data) {}

    size_t remaining() const { return data_.size() - pos_; }
    bool u8(uint8_t& v) { return number(1, v); }
    bool u16(uint16_t& v) { return number(2, v); }
    bool u32(uint32_t& v) { return number(4, v); }
    bool bytes(size_t n, std::string_view& out) {
        if (remaining() < n) return false;
        out = data_.substr(pos_, n);
        pos_ += n;
        return true;
    }

  private:
    template <typename T>
    bool number(size_t n, T& v) {
        if (remaining() < n) return false;
        uint32_t acc = 0;
        for (size_t i = 0; i < n; ++i) acc = (acc << 8) | static_cast<uint8_t>(data_[pos_ + i]);
        pos_ += n;
        v = static_cast<T>(acc);
        return true;
    }

    std::string_view data_;
    size_t pos_ = 0;
};

// Reads a u8-length-prefixed name and checks it; WHAT names the field in errors.
Result<std::string_view> readName(Cursor& cursor, size_t max, const std::string& what) {
    uint8_t length = 0;
    std::string_view name;
    if (!cursor.u8(length) || !cursor.bytes(length, name)) return fail("truncated " + what);
    if (!isValidName(name, max)) return fail("invalid " + what);
    return name;
}

Status checkAccepted(const FrameRules& rules, std::string_view protocol, uint16_t version) {
    if (rules.accepted.empty()) log::panic("ipc: a receiver must name the protocols it accepts");
    for (const auto& id : rules.accepted) {
        if (id.name == protocol && id.version == version) return {};
    }
    return fail("unexpected protocol " + std::string(protocol) + " version " +
                std::to_string(version));
}

Result<Message> decodeBody(std::string_view body, const FrameRules& rules) {
    Cursor cursor(body);
    auto protocol = readName(cursor, kMaxProtocolNameBytes, "protocol name");
    if (!protocol) return protocol.failure();
    uint16_t version = 0;
    if (!cursor.u16(version)) return fail("truncated protocol version");
    if (auto accepted = checkAccepted(rules, *protocol, version); !accepted) {
        return accepted.failure();
    }
    uint32_t count = 0;
    if (!cursor.u32(count)) return fail("truncated attribute count");
    if (count > cursor.remaining() / kMinAttributeBytes) {
        return fail("attribute count " + std::to_string(count) + " does not fit the frame");
    }
    Message message{std::string(*protocol), version};
    std::unordered_set<std::string_view> seen;
    for (uint32_t i = 0; i < count; ++i) {
        std::string where = "attribute #" + std::to_string(i + 1);
        auto name = readName(cursor, kMaxAttributeNameBytes, where + " name");
        if (!name) return name.failure();
        uint32_t length = 0;
        std::string_view value;
        if (!cursor.u32(length)) return fail("truncated " + where + " value length");
        if (!cursor.bytes(length, value)) return fail("truncated " + where + " value");
        if (!seen.insert(*name).second) return fail("repeated attribute " + std::string(*name));
        message.addString(*name, value);
    }
    if (cursor.remaining() != 0) {
        return fail(std::to_string(cursor.remaining()) + " trailing bytes after the attributes");
    }
    return message;
}

}  // namespace

Message::Message(std::string protocol, uint16_t version)
    : protocol_(std::move(protocol)), version_(version) {
    if (!isValidName(protocol_, kMaxProtocolNameBytes)) {
        log::panic("ipc: invalid protocol name \"%s\"", protocol_.c_str());
    }
}

Message& Message::addString(std::string_view name, std::string_view value) {
    if (!isValidName(name, kMaxAttributeNameBytes)) {
        log::panic("ipc: invalid attribute name \"%.*s\"", static_cast<int>(name.size()),
                   name.data());
    }
    attributes_.push_back({std::string(name), std::string(value)});
    return *this;
}

Message& Message::addInt(std::string_view name, int64_t value) {
    return addString(name, std::to_string(value));
}

Message& Message::addBool(std::string_view name, bool value) {
    return addString(name, value ? "1" : "0");
}

const std::string* Message::find(std::string_view name) const {
    for (const auto& attribute : attributes_) {
        if (attribute.name == name) return &attribute.value;
    }
    return nullptr;
}

bool isValidName(std::string_view name, size_t max) {
    if (name.empty() || name.size() > max) return false;
    for (unsigned char c : name) {
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

std::string encodeFrame(const Message& message) {
    if (!isValidName(message.protocol(), kMaxProtocolNameBytes)) {
        log::panic("ipc: encoding a message without a valid protocol name");
    }
    size_t bodyBytes = 1 + message.protocol().size() + 2 + 4;
    std::unordered_set<std::string_view> names;
    for (const auto& attribute : message.attributes()) {
        if (!names.insert(attribute.name).second) {
            log::panic("ipc: repeated attribute %s in a %s message", attribute.name.c_str(),
                       message.protocol().c_str());
        }
        bodyBytes += 1 + attribute.name.size() + 4 + attribute.value.size();
    }
    if (bodyBytes > UINT32_MAX) log::panic("ipc: message too large to encode");
    std::string frame;
    frame.reserve(kFrameHeaderBytes + bodyBytes);
    frame += kFrameMagic;
    putU32(frame, static_cast<uint32_t>(bodyBytes));
    putU8(frame, static_cast<uint8_t>(message.protocol().size()));
    frame += message.protocol();
    putU16(frame, message.version());
    putU32(frame, static_cast<uint32_t>(message.attributes().size()));
    for (const auto& attribute : message.attributes()) {
        putU8(frame, static_cast<uint8_t>(attribute.name.size()));
        frame += attribute.name;
        putU32(frame, static_cast<uint32_t>(attribute.value.size()));
        frame += attribute.value;
    }
    return frame;
}

DecodeResult decodeFrame(std::string_view buffered, const FrameRules& rules) {
    DecodeResult result;
    size_t magicBytes = std::min(buffered.size(), kFrameMagic.size());
    if (buffered.substr(0, magicBytes) != kFrameMagic.substr(0, magicBytes)) {
        result.status = DecodeStatus::Error;
        result.error = "not a postern IPC frame (bad magic)";
        return result;
    }
    if (buffered.size() < kFrameHeaderBytes) return result;
    Cursor header(buffered.substr(kFrameMagic.size()));
    uint32_t bodyBytes = 0;
    header.u32(bodyBytes);
    size_t frameBytes = kFrameHeaderBytes + size_t{bodyBytes};
    if (frameBytes > rules.maxFrameBytes) {
        result.status = DecodeStatus::Error;
        result.error = "frame of " + std::to_string(frameBytes) + " bytes exceeds the limit of " +
                       std::to_string(rules.maxFrameBytes);
        return result;
    }
    result.frameBytes = frameBytes;
    if (buffered.size() < frameBytes) return result;
    auto message = decodeBody(buffered.substr(kFrameHeaderBytes, bodyBytes), rules);
    if (!message) {
        result.status = DecodeStatus::Error;
        result.error = message.error();
        return result;
    }
    result.status = DecodeStatus::Message;
    result.message = std::move(message.value());
    return result;
}

std::optional<int64_t> parseDecimal(std::string_view text) {
    std::string_view digits = text;
    if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
    if (digits.empty() || (digits.front() == '0' && (digits.size() > 1 || digits != text))) {
        return std::nullopt;  // "", "-", leading zeros, "-0"
    }
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
    }
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

AttributeReader::AttributeReader(const Message& message)
    : message_(message), read_(message.attributes().size(), false) {
    const auto& attributes = message.attributes();
    for (size_t i = 0; i < attributes.size(); ++i) index_.emplace(attributes[i].name, i);
}

void AttributeReader::failWith(std::string text) {
    if (error_.empty()) error_ = std::move(text);
}

const std::string* AttributeReader::take(std::string_view name) {
    if (!ok()) return nullptr;
    auto found = index_.find(name);
    if (found == index_.end()) return nullptr;
    read_[found->second] = true;
    return &message_.attributes()[found->second].value;
}

std::string AttributeReader::string(std::string_view name) {
    auto value = optionalString(name);
    if (!value && ok()) failWith("missing attribute " + std::string(name));
    return value.value_or("");
}

int64_t AttributeReader::int64(std::string_view name, int64_t min, int64_t max) {
    auto value = optionalInt64(name, min, max);
    if (!value && ok()) failWith("missing attribute " + std::string(name));
    return value.value_or(0);
}

bool AttributeReader::boolean(std::string_view name) {
    auto value = optionalBoolean(name);
    if (!value && ok()) failWith("missing attribute " + std::string(name));
    return value.value_or(false);
}

std::optional<std::string> AttributeReader::optionalString(std::string_view name) {
    const std::string* value = take(name);
    if (!value) return std::nullopt;
    return *value;
}

std::optional<int64_t> AttributeReader::optionalInt64(std::string_view name, int64_t min,
                                                      int64_t max) {
    const std::string* text = take(name);
    if (!text) return std::nullopt;
    auto value = parseDecimal(*text);
    if (!value) {
        failWith("attribute " + std::string(name) + " is not a decimal integer");
        return std::nullopt;
    }
    if (*value < min || *value > max) {
        failWith("attribute " + std::string(name) + " out of range [" + std::to_string(min) + ", " +
                 std::to_string(max) + "]");
        return std::nullopt;
    }
    return value;
}

std::optional<bool> AttributeReader::optionalBoolean(std::string_view name) {
    const std::string* text = take(name);
    if (!text) return std::nullopt;
    if (*text == "1") return true;
    if (*text == "0") return false;
    failWith("attribute " + std::string(name) + " is not a boolean");
    return std::nullopt;
}

Status AttributeReader::finish() const {
    if (!ok()) return fail(error_);
    for (size_t i = 0; i < read_.size(); ++i) {
        if (!read_[i]) return fail("unexpected attribute " + message_.attributes()[i].name);
    }
    return {};
}

}  // namespace postern::ipc
