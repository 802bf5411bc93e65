// fuzz_smtp_reply.cpp: libFuzzer target for lib/smtp_reply.h, the SMTP client's reply
// reader. The first byte sets the piece size the input is fed in (1..32); the rest is
// what a server sends. Properties: no crash; the replies and the error (if any) are the
// same fed in pieces as fed whole; every reply respects the limits, has a valid code,
// prints without control characters and survives format() then reading back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "smtp_reply.h"
#include "text_escape.h"

using namespace postern;

namespace {

constexpr ReplyLimits kLimits{.maxLineLength = 64, .maxLines = 8, .maxReplySize = 512};

struct Transcript {
    std::vector<SmtpReply> replies;
    std::string error;
};

Transcript readAll(std::string_view input, size_t pieceSize) {
    ReplyReader reader(kLimits);
    Transcript transcript;
    for (size_t pos = 0; pos < input.size() && transcript.error.empty(); pos += pieceSize) {
        reader.feed(input.substr(pos, pieceSize));
        for (;;) {
            auto reply = reader.next();
            if (!reply) {
                transcript.error = reply.error();
                break;
            }
            if (!reply->has_value()) break;
            transcript.replies.push_back(**reply);
        }
    }
    return transcript;
}

void checkReply(const SmtpReply& reply) {
    FUZZ_CHECK(reply.code >= 200 && reply.code <= 559);
    FUZZ_CHECK(!reply.lines.empty() && reply.lines.size() <= kLimits.maxLines);
    for (const auto& line : reply.lines) FUZZ_CHECK(line.size() + 4 <= kLimits.maxLineLength + 1);
    if (!reply.enhanced.empty()) FUZZ_CHECK(reply.enhanced[0] == '0' + reply.code / 100);
    FUZZ_CHECK(isPrintable(reply.printable()));
    ReplyReader again;
    again.feed(reply.format());
    auto back = again.next();
    FUZZ_CHECK(back.ok() && back->has_value());
    FUZZ_CHECK((*back)->code == reply.code && (*back)->lines.size() == reply.lines.size());
    (void)parseEhloCapabilities(reply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t pieceSize = 1 + data[0] % 32;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const Transcript whole = readAll(input, input.size() + 1);
    const Transcript pieces = readAll(input, pieceSize);
    FUZZ_CHECK(whole.error == pieces.error);
    FUZZ_CHECK(whole.replies == pieces.replies);
    for (const auto& reply : whole.replies) checkReply(reply);
    return 0;
}
