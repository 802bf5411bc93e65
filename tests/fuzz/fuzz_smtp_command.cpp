// fuzz_smtp_command.cpp: libFuzzer target for lib/smtp_command.h (with lib/smtp_params.h).
// The first byte picks the session context (bits: 0 SMTPUTF8 transaction, 1 BINARYMIME,
// 2 no DSN, 3 no CHUNKING, 4 lenient lengths); the rest is one command line.
// Properties: no crash; every refusal is a well-formed one-line reply (4xx/5xx, CR LF
// only at its end); an accepted MAIL/RCPT has a path whose canonical form parses back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "smtp_command.h"
#include "smtp_reply.h"

using namespace postern;

namespace {

void checkRefusal(const CommandError& error) {
    FUZZ_CHECK(error.reply.code >= 400 && error.reply.code <= 599);
    const std::string wire = error.reply.format();
    FUZZ_CHECK(wire.size() >= 5 && wire.compare(wire.size() - 2, 2, "\r\n") == 0);
    FUZZ_CHECK(wire.find_first_of("\r\n") == wire.size() - 2);
    ReplyReader reader;
    reader.feed(wire);
    auto reply = reader.next();
    FUZZ_CHECK(reply.ok() && reply->has_value() && (*reply)->code == error.reply.code);
}

void checkAccepted(const SmtpCommand& command, const CommandContext& context) {
    if (command.verb != Verb::mail && command.verb != Verb::rcpt) return;
    const PathType type = command.verb == Verb::mail ? PathType::reverse : PathType::forward;
    AddressOptions options{.smtputf8 = true, .lenientLength = true};
    auto again = parsePath("<" + command.path.toString() + ">", type, options);
    FUZZ_CHECK(again.ok() && *again == command.path);
    const bool utf8 = command.verb == Verb::mail ? command.mail.smtputf8 : context.transactionSmtputf8;
    if (!utf8) FUZZ_CHECK(!command.path.needsSmtpUtf8());
    if (command.mail.envid) FUZZ_CHECK(command.mail.envid->size() <= 100);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    CommandContext context;
    context.transactionSmtputf8 = flags & 1;
    context.offerBinaryMime = flags & 2;
    context.offerDsn = !(flags & 4);
    context.offerChunking = !(flags & 8);
    context.addressOptions.lenientLength = flags & 16;
    const std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto result = parseCommand(line, context);
    if (result.ok())
        checkAccepted(result.command(), context);
    else
        checkRefusal(result.error());
    return 0;
}
