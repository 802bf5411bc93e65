// ipc.h: framed attribute messages between postern processes (docs/IPC.md).
// A Message is a protocol name, a version and ordered, uniquely named attributes whose
// values are byte strings (any byte, NUL included). encodeFrame() turns one into a frame;
// decodeFrame() is the one strict parser of frames, incremental over a byte stream.
// AttributeReader reads a received message's attributes by name and type and refuses
// leftovers, in the style of OpenSMTPD's m_get_*() and m_end().
//
// Frame (all integers big-endian):
//   header  "PSTN" (4 bytes), u32 body length
//   body    u8 protocol length P (1..32), P bytes protocol name,
//           u16 version, u32 attribute count N,
//           N times: u8 name length L (1..255), L bytes name, u32 value length V, V bytes value
// Names (protocol and attribute) are printable ASCII without space (0x21..0x7e). A frame
// (header included) may not exceed the receiver's bound; a body must end exactly after the
// N-th attribute. Integers are sent as decimal text, booleans as "0" or "1".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "result.h"

namespace postern::ipc {

constexpr std::string_view kFrameMagic = "PSTN";
constexpr size_t kFrameHeaderBytes = 8;
constexpr size_t kDefaultMaxFrameBytes = 1024 * 1024;
constexpr size_t kMaxProtocolNameBytes = 32;
constexpr size_t kMaxAttributeNameBytes = 255;

struct Attribute {
    std::string name;
    std::string value;
};

// One message: a protocol, its version and named attributes in the order they were added.
class Message {
  public:
    Message() = default;
    Message(std::string protocol, uint16_t version);

    const std::string& protocol() const { return protocol_; }
    uint16_t version() const { return version_; }
    const std::vector<Attribute>& attributes() const { return attributes_; }

    // Appends an attribute. A malformed name is a bug in the caller: it panics (and so does
    // encodeFrame() on a repeated name).
    Message& addString(std::string_view name, std::string_view value);
    // Appends an integer attribute (decimal text).
    Message& addInt(std::string_view name, int64_t value);
    // Appends a boolean attribute ("0" or "1").
    Message& addBool(std::string_view name, bool value);
    // The value of attribute NAME, or nullptr.
    const std::string* find(std::string_view name) const;

  private:
    std::string protocol_;
    uint16_t version_ = 0;
    std::vector<Attribute> attributes_;
};

// A protocol a receiver accepts: name and exact version.
struct ProtocolId {
    std::string name;
    uint16_t version = 0;
};

// What a receiver accepts: a frame size bound and the protocols it expects.
struct FrameRules {
    size_t maxFrameBytes = kDefaultMaxFrameBytes;
    std::vector<ProtocolId> accepted;  // must not be empty: a receiver names what it expects
};

enum class DecodeStatus { NeedMore, Message, Error };

struct DecodeResult {
    DecodeStatus status = DecodeStatus::NeedMore;
    size_t frameBytes = 0;  // the whole frame's size: with Message, and with NeedMore once
                            // the header is in (0 before), so a reader knows what to wait for
    Message message;        // with Message
    std::string error;      // with Error: why the input was refused
};

// True when NAME is a valid protocol or attribute name of at most MAX bytes.
bool isValidName(std::string_view name, size_t max);
// Encodes MESSAGE as one frame (header included).
std::string encodeFrame(const Message& message);
// Looks at the start of BUFFERED (bytes received so far, maybe several frames or part of
// one): NeedMore, one complete Message, or Error. Refuses garbage as early as it can
// (a bad magic or an oversized length needs only the header).
DecodeResult decodeFrame(std::string_view buffered, const FrameRules& rules);

// Reads a received message's attributes by name. Errors are sticky: after the first one
// every getter returns an empty value, and finish() reports it. finish() also refuses
// attributes that nobody read. Act on the values only once finish() succeeded.
class AttributeReader {
  public:
    explicit AttributeReader(const Message& message);

    // A required attribute, any bytes.
    std::string string(std::string_view name);
    // A required decimal integer within [min, max].
    int64_t int64(std::string_view name, int64_t min, int64_t max);
    // A required boolean.
    bool boolean(std::string_view name);
    // The optional forms: nullopt when absent; a present but malformed value is an error.
    std::optional<std::string> optionalString(std::string_view name);
    std::optional<int64_t> optionalInt64(std::string_view name, int64_t min, int64_t max);
    std::optional<bool> optionalBoolean(std::string_view name);

    // True while no getter failed.
    bool ok() const { return error_.empty(); }
    // The first error, or success when every attribute was read and none failed.
    Status finish() const;

  private:
    // Marks NAME read and returns its value; nullptr when absent or after an error.
    const std::string* take(std::string_view name);
    void failWith(std::string text);

    const Message& message_;
    std::unordered_map<std::string_view, size_t> index_;
    std::vector<bool> read_;
    std::string error_;
};

// Parses strict decimal text ("-12", "0"; no sign on zero, no leading zeros, no spaces).
std::optional<int64_t> parseDecimal(std::string_view text);

}  // namespace postern::ipc
