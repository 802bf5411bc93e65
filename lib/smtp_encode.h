// smtp_encode.h: the SMTP client's side of DATA (RFC 5321 section 4.5.2): turns stored
// message content into what goes on the wire after "354", in pieces of any size.
//  - Every line end becomes CR LF: CR LF stays, and a bare LF or bare CR (never valid in
//    stored content, but a queue file written by a lenient peer may hold one) becomes
//    CR LF too, so no remote server can read a smuggled end-of-data from our output.
//  - A line starting with "." gets another "." (dot-stuffing), also after a bare line end.
//  - Lines longer than lineLengthLimit octets (Postfix smtp_line_length_limit, 998 by
//    default; the stuffed dot is not counted) are broken by inserting CR LF SPACE, as
//    Postfix does: in a header this is a folding, in MIME text the least damage. Like
//    Postfix, the break may fall inside a UTF-8 character.
//  - finish() ends a last line that lacks one, then sends ".\r\n".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postern {

class DataEncoder {
public:
    // lineLengthLimit 0 means lines are never broken.
    explicit DataEncoder(size_t lineLengthLimit = 998) : lineLengthLimit_(lineLengthLimit) {}

    // Appends the wire form of the next piece of content to out.
    void encode(std::string_view content, std::string& out);
    // Appends the end of the content and the terminating ".\r\n" to out.
    void finish(std::string& out);
    // Number of lines broken because of the length limit so far.
    uint64_t brokenLines() const { return brokenLines_; }

private:
    void put(char c, std::string& out);
    // put() for every octet of a run without CR or LF.
    void putRun(std::string_view run, std::string& out);
    // The position of the next CR or LF at or after `from` (content.size() if none).
    static size_t lineBreakFrom(std::string_view content, size_t from);
    void endLine(std::string& out);

    size_t lineLengthLimit_;
    size_t column_ = 0;         // content octets on the current wire line
    bool atLineStart_ = true;
    bool crPending_ = false;
    uint64_t brokenLines_ = 0;
};

// Encodes a whole content buffer at once: encode() then finish().
std::string encodeData(std::string_view content, size_t lineLengthLimit = 998);

}  // namespace postern
