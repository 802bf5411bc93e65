// ipc_channel.h: one end of an IPC conversation on a libevent loop.
// A Channel owns a connected UNIX stream socket through a bufferevent, sends messages as
// frames (lib/ipc.h) and hands each decoded message to a callback. The peer is not
// trusted: a malformed frame is logged as a warning and the connection is closed; the
// close callback then says why (EOF, I/O error, malformed input, read timeout).
// Both callbacks may destroy the Channel; nothing touches it afterwards.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "event.h"
#include "ipc.h"
#include "result.h"
#include "unique_fd.h"

namespace postern::ipc {

enum class CloseReason { Eof, IoError, Malformed, Timeout };

// "eof", "I/O error", "malformed input", "timeout": for log lines.
const char* describe(CloseReason reason);

struct ChannelOptions {
    std::string peer = "peer";  // names the other end in log lines ("master", "qmgr")
    FrameRules rules;           // frames this end accepts; maxFrameBytes also bounds send()
    std::chrono::milliseconds readTimeout{0};  // close after this long without input; 0: never
};

class Channel {
  public:
    using MessageHandler = std::function<void(Message&& message)>;
    using CloseHandler = std::function<void(CloseReason reason, const std::string& detail)>;

    // Puts FD (a connected stream socket) on BASE. ON_CLOSE is called once, when the
    // channel closes for any reason other than close() or destruction.
    static Result<std::unique_ptr<Channel>> open(event_base* base, UniqueFd fd,
                                                 ChannelOptions options, MessageHandler onMessage,
                                                 CloseHandler onClose);
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // Queues MESSAGE for sending; fails when the channel is closed or the frame exceeds
    // the channel's bound.
    Status send(const Message& message);
    // Closes the connection now, dropping unsent output; the close callback is not called.
    void close();
    // True until the channel closes.
    bool isOpen() const { return bev_ != nullptr; }
    // Bytes queued but not yet written (for back-pressure).
    size_t pendingOutputBytes() const;
    // Stops or resumes reading (back-pressure on the peer).
    void setReading(bool on);
    // Writes all queued output now, waiting at most LIMIT, then closes the channel (the
    // close callback is not called); for last words before exit.
    Status flushAndClose(std::chrono::milliseconds limit);

  private:
    Channel(ChannelOptions options, MessageHandler onMessage, CloseHandler onClose);
    static void onRead(bufferevent* bev, void* self);
    static void onEvent(bufferevent* bev, short events, void* self);
    void readFrames();
    // Decodes the first frame in the input buffer, if it is all there.
    DecodeResult nextFrame();
    void closeWith(CloseReason reason, const std::string& detail);

    ChannelOptions options_;
    MessageHandler onMessage_;
    CloseHandler onClose_;
    // The socket is ours, not the bufferevent's: libevent closes a CLOSE_ON_FREE socket
    // only on the loop's next turn, and a peer must see EOF as soon as we close.
    UniqueFd fd_;
    BufferEventPtr bev_;  // declared after fd_: freed first
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace postern::ipc
