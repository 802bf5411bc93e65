// fuzz_ipc_frame.cpp: libFuzzer target for lib/ipc.h, the one parser of IPC frames, and the
// status/control readers of lib/master_protocol.h. The input is a byte stream from a peer.
// Properties: no crash; every frame decoded re-encodes to exactly the bytes it came from
// (the format has one encoding per message); every proper prefix of such a frame needs
// more input; a refused stream stays refused with more bytes after it; the typed readers
// never crash on a decoded message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "ipc.h"
#include "master_protocol.h"

using namespace postern;

namespace {

const ipc::FrameRules kRules{4096, {{"test", 1}, {"status", 1}, {"control", 1}}};

void checkFrame(std::string_view frame, const ipc::Message& message) {
    FUZZ_CHECK(ipc::encodeFrame(message) == frame);
    for (size_t cut = 0; cut < frame.size(); cut += 1 + cut / 8) {
        FUZZ_CHECK(ipc::decodeFrame(frame.substr(0, cut), kRules).status ==
                   ipc::DecodeStatus::NeedMore);
    }
    ipc::AttributeReader reader(message);
    for (const auto& attribute : message.attributes()) {
        (void)reader.optionalInt64(attribute.name, INT64_MIN, INT64_MAX);
    }
    (void)reader.finish();
    (void)master_protocol::decodeStatus(message);
    (void)master_protocol::decodeControl(message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view stream(reinterpret_cast<const char*>(data), size);
    while (!stream.empty()) {
        ipc::DecodeResult result = ipc::decodeFrame(stream, kRules);
        if (result.status == ipc::DecodeStatus::NeedMore) break;
        if (result.status == ipc::DecodeStatus::Error) {
            std::string more(stream);
            more += "trailing";
            FUZZ_CHECK(ipc::decodeFrame(more, kRules).status == ipc::DecodeStatus::Error);
            break;
        }
        FUZZ_CHECK(result.frameBytes > 0 && result.frameBytes <= stream.size());
        checkFrame(stream.substr(0, result.frameBytes), result.message);
        stream.remove_prefix(result.frameBytes);
    }
    return 0;
}
