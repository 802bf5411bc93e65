// fuzz_address.cpp: libFuzzer target for lib/address.h, lib/xtext.h and
// lib/text_escape.h. The first byte picks the options (bit 0 forward path, bit 1
// SMTPUTF8, bit 2 lenient lengths, bit 3 brackets required); the rest is the path.
// Properties: no crash; an accepted address prints in a canonical form that parses back
// to the same address; no UTF-8 gets through without SMTPUTF8; xtext round-trips;
// printable() output is printable and stable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "address.h"
#include "fuzz_check.h"
#include "text_escape.h"
#include "utf8.h"
#include "xtext.h"

using namespace postern;

namespace {

void checkAddress(std::string_view text, uint8_t flags) {
    const PathType type = flags & 1 ? PathType::forward : PathType::reverse;
    const AddressOptions options{.smtputf8 = (flags & 2) != 0, .lenientLength = (flags & 4) != 0,
                                 .requireBrackets = (flags & 8) != 0};
    auto address = parsePath(text, type, options);
    if (!address) {
        FUZZ_CHECK(!address.error().empty());
        FUZZ_CHECK(isPrintable(address.error()));
        return;
    }
    if (!options.smtputf8) FUZZ_CHECK(!address->needsSmtpUtf8());
    FUZZ_CHECK(isValidUtf8(address->local) && isValidUtf8(address->domain));
    const std::string canonical = address->toString();
    AddressOptions again = options;
    again.lenientLength = true;  // quoting may lengthen the local part
    auto reparsed = parsePath("<" + canonical + ">", type, again);
    FUZZ_CHECK(reparsed.ok());
    FUZZ_CHECK(*reparsed == *address);
}

void checkXtext(std::string_view bytes) {
    auto decoded = decodeXtext(encodeXtext(bytes));
    FUZZ_CHECK(decoded.ok() && *decoded == bytes);
    if (isValidUtf8(bytes) && bytes.find('\0') == std::string_view::npos) {
        auto utf8 = decodeUtf8AddrXtext(encodeUtf8AddrXtext(bytes), false);
        FUZZ_CHECK(utf8.ok() && *utf8 == bytes);
    }
    (void)decodeUtf8AddrXtext(bytes, true);
}

void checkPrintable(std::string_view bytes) {
    for (auto charset : {EscapeCharset::utf8, EscapeCharset::ascii}) {
        const std::string once = printable(bytes, charset);
        FUZZ_CHECK(isPrintable(once, charset));
        for (char c : once) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
        const std::string cut = printableTruncated(bytes, 40, charset);
        FUZZ_CHECK(cut.size() <= 40 && isPrintable(cut, charset));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    checkAddress(text, data[0]);
    checkXtext(text);
    checkPrintable(text);
    return 0;
}
