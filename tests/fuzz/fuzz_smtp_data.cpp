// fuzz_smtp_data.cpp: libFuzzer target for lib/smtp_data.h (the server's end-of-data
// state machine) and lib/smtp_encode.h. The first byte picks the options (bit 0 reject
// bare newlines, bit 1 a small size limit, bit 2 read as BDAT, bit 3 BDAT binary); the
// rest is what a client sends after 354.
// Properties: fed byte by byte, in 3-byte pieces or all at once, the content, the end
// position and the statistics are the same; the end is only ever right after the exact
// CR LF . CR LF (or ".\r\n" first); the content has no bare CR or LF; what the client
// encoder makes of the content reads back to the same content.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "smtp_data.h"
#include "smtp_encode.h"

using namespace postern;

namespace {

struct Outcome {
    std::string content;
    size_t consumed = 0;
    bool finished = false;
    ContentStats stats;
};

Outcome feed(std::string_view input, const DataOptions& options, uint8_t flags, size_t pieceSize) {
    DataReader reader = flags & 4 ? DataReader::forBdat(options, flags & 8) : DataReader::forData(options);
    Outcome outcome;
    for (size_t pos = 0; pos < input.size() && !reader.finished(); pos += pieceSize) {
        const std::string_view piece = input.substr(pos, pieceSize);
        const size_t used = reader.feed(piece, outcome.content);
        FUZZ_CHECK(used == piece.size() || reader.finished());
        outcome.consumed += used;
    }
    if (flags & 4) reader.finish(outcome.content);
    outcome.finished = reader.finished();
    outcome.stats = reader.stats();
    return outcome;
}

void checkCanonical(std::string_view content) {
    for (size_t i = 0; i < content.size(); ++i) {
        if (content[i] == '\r') FUZZ_CHECK(i + 1 < content.size() && content[i + 1] == '\n');
        if (content[i] == '\n') FUZZ_CHECK(i > 0 && content[i - 1] == '\r');
    }
}

void checkEnd(std::string_view input, const Outcome& outcome) {
    if (!outcome.finished) {
        FUZZ_CHECK(outcome.consumed == input.size());
        FUZZ_CHECK(input.find("\r\n.\r\n") == std::string_view::npos && input.substr(0, 3) != ".\r\n");
        return;
    }
    const std::string_view upto = input.substr(0, outcome.consumed);
    FUZZ_CHECK(upto == ".\r\n" || (upto.size() >= 5 && upto.substr(upto.size() - 5) == "\r\n.\r\n"));
    FUZZ_CHECK(upto.substr(0, 3) == ".\r\n" ? upto.size() == 3 : upto.find("\r\n.\r\n") == upto.size() - 5);
}

// The client encoder's output, read by the server, gives the content back.
void checkRoundTrip(const std::string& content) {
    const std::string wire = encodeData(content, 0);
    DataReader reader = DataReader::forData({});
    std::string back;
    FUZZ_CHECK(reader.feed(wire, back) == wire.size() && reader.finished());
    FUZZ_CHECK(back == content);
    FUZZ_CHECK(!reader.stats().bareNewline);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    DataOptions options;
    options.bareNewline = flags & 1 ? BareNewlinePolicy::reject : BareNewlinePolicy::normalize;
    options.messageSizeLimit = flags & 2 ? 64 : 0;
    options.lineLengthLimit = 16;
    options.headerSizeLimit = 32;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const Outcome whole = feed(input, options, flags, input.size() + 1);
    for (size_t pieceSize : {size_t{1}, size_t{3}}) {
        const Outcome pieces = feed(input, options, flags, pieceSize);
        FUZZ_CHECK(pieces.content == whole.content && pieces.consumed == whole.consumed);
        FUZZ_CHECK(pieces.finished == whole.finished && pieces.stats == whole.stats);
    }
    FUZZ_CHECK(whole.content.size() == (whole.stats.tooBig ? options.messageSizeLimit : whole.stats.size));
    if (flags & 8 && flags & 4) return 0;  // binary BDAT keeps bare CR and LF on purpose
    std::string_view stored = whole.content;
    if (whole.stats.tooBig && !stored.empty() && stored.back() == '\r') stored.remove_suffix(1);  // cut mid CR LF
    checkCanonical(stored);
    if (flags & 4) return 0;
    checkEnd(input, whole);
    if (whole.finished && !whole.stats.tooBig) checkRoundTrip(whole.content);
    return 0;
}
