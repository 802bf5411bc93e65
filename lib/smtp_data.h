// smtp_data.h: reads message content on the server side, after "354" to DATA or in BDAT
// chunks, and is smtpd's defence against SMTP smuggling (CVE-2023-51764 and kin).
//
// End of DATA is only the exact five bytes CR LF "." CR LF (the CR LF that ended the DATA
// command line counts as the first two). A bare LF or a bare CR (one not part of CR LF)
// ends a content line, written as CR LF into the content, but it never counts toward the
// end sequence: "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r\n.\r", "\r.\r\n", ... never end
// the message. With BareNewlinePolicy::reject the reader also flags them so smtpd answers
// "550 5.5.2 Error: bare <CR> or <LF> received" at the real end (Postfix's
// smtpd_forbid_bare_newline = reject). Bytes after the end stay unconsumed: they are the
// next pipelined command. Any split of the input into feed() calls gives the same result.
//
// Content is written un-dot-stuffed (a leading dot is removed from every line, whatever
// ended the line before) with CR LF line ends. Long lines are kept whole: like Postfix,
// whose smtpd cuts them into queue records that delivery joins again, nothing is lost;
// they are counted (overlongLines) and the SMTP client breaks lines at 998 when it sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smtp_reply.h"

namespace postern {

enum class BareNewlinePolicy {
    normalize,  // a bare CR or LF becomes CR LF in the content
    reject,     // the same, and the message is refused at its end
};

struct DataOptions {
    BareNewlinePolicy bareNewline = BareNewlinePolicy::normalize;
    uint64_t messageSizeLimit = 0;  // content octets; 0 = no limit
    size_t lineLengthLimit = 2048;  // Postfix line_length_limit: longer lines are counted
    size_t headerSizeLimit = 102400;// Postfix header_size_limit, for one logical header
};

// What the reader learned about the content so far.
struct ContentStats {
    uint64_t size = 0;          // content octets, un-dot-stuffed, CR LF line ends
    bool tooBig = false;        // size went over messageSizeLimit: the rest is not stored
    bool bareNewline = false;   // a bare CR or LF was received
    bool eightBit = false;      // a byte >= 0x80 was received
    uint64_t headerSize = 0;    // octets of the header section, its ending empty line excluded
    bool headerTooBig = false;  // a logical header went over headerSizeLimit
    uint64_t longestLine = 0;   // octets, line end excluded
    uint64_t overlongLines = 0; // lines longer than lineLengthLimit

    bool operator==(const ContentStats&) const = default;
};

class DataReader {
public:
    // A reader for the bytes after "354" to DATA. commandEndedWithCrlf: the DATA command
    // line ended in CR LF; when the session took a bare LF for its end, a "." first is no end.
    static DataReader forData(const DataOptions& options, bool commandEndedWithCrlf = true);
    // A reader for BDAT chunk bytes: no dot-unstuffing, no end sequence (the session
    // ends it with finish() after the LAST chunk). binary (BODY=BINARYMIME) keeps bare CR
    // and LF as they are, neither converted nor flagged.
    static DataReader forBdat(const DataOptions& options, bool binary = false);

    // Reads input, appending content to out (only the first messageSizeLimit octets of the
    // content are ever appended). Returns how many
    // bytes were used: all of them, or, for DATA, up to and including the end sequence.
    size_t feed(std::string_view input, std::string& out);
    // BDAT after the LAST chunk: a CR held back at the end is a bare CR; marks finished.
    void finish(std::string& out);
    // True once the end of the content was read.
    bool finished() const { return state_ == State::finished; }
    const ContentStats& stats() const { return stats_; }
    // At the end: the refusal smtpd must send (bare newline under reject, too big), or
    // nothing when the message may be queued.
    std::optional<SmtpReply> rejection() const;

private:
    enum class Framing { dotTerminated, chunked, chunkedBinary };
    enum class State { lineStart, midLine, crSeen, finished };

    DataReader(const DataOptions& options, Framing framing, bool startAfterCrlf);
    void step(unsigned char byte, std::string& out);
    size_t copyRun(std::string_view input, std::string& out);
    void bareLineEnd(std::string& out);
    void append(std::string_view bytes, std::string& out);
    void store(std::string_view bytes, std::string& out);
    void endLine(std::string& out);
    void classifyHeaderByte(unsigned char byte);
    void closeLineStats();

    enum class HeaderLine { start, name, nameSpace, field, continuation, body };

    DataOptions options_;
    Framing framing_;
    State state_ = State::lineStart;
    bool lineAfterCrlf_;        // the current line began after a real CR LF (or at the start)
    bool loneDot_ = false;      // the current line is so far only a dot after a real CR LF
    uint64_t lineLength_ = 0;
    bool inHeader_ = true;
    HeaderLine headerLine_ = HeaderLine::start;
    bool sawHeaderField_ = false;
    uint64_t logicalHeaderSize_ = 0;
    ContentStats stats_;
};

}  // namespace postern
