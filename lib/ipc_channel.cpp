// ipc_channel.cpp: IPC frames over a bufferevent (see ipc_channel.h).
#include "ipc_channel.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "log.h"

namespace postern::ipc {

const char* describe(CloseReason reason) {
    switch (reason) {
        case CloseReason::Eof:
            return "eof";
        case CloseReason::IoError:
            return "I/O error";
        case CloseReason::Malformed:
            return "malformed input";
        case CloseReason::Timeout:
            return "timeout";
    }
    return "unknown";
}

Channel::Channel(ChannelOptions options, MessageHandler onMessage, CloseHandler onClose)
    : options_(std::move(options)),
      onMessage_(std::move(onMessage)),
      onClose_(std::move(onClose)) {}

Result<std::unique_ptr<Channel>> Channel::open(event_base* base, UniqueFd fd,
                                               ChannelOptions options, MessageHandler onMessage,
                                               CloseHandler onClose) {
    if (evutil_make_socket_nonblocking(fd.get()) != 0)
        return fail("cannot make socket non-blocking");
    std::unique_ptr<Channel> channel(
        new Channel(std::move(options), std::move(onMessage), std::move(onClose)));
    channel->bev_.reset(bufferevent_socket_new(base, fd.get(), 0));
    if (!channel->bev_) return fail("cannot create bufferevent for " + channel->options_.peer);
    channel->fd_ = std::move(fd);
    bufferevent* bev = channel->bev_.get();
    bufferevent_setcb(bev, &Channel::onRead, nullptr, &Channel::onEvent, channel.get());
    // Never buffer more than one frame's worth of unread input.
    bufferevent_setwatermark(bev, EV_READ, 0, channel->options_.rules.maxFrameBytes);
    if (channel->options_.readTimeout.count() > 0) {
        auto ms = channel->options_.readTimeout.count();
        timeval timeout = {static_cast<time_t>(ms / 1000),
                           static_cast<suseconds_t>(ms % 1000 * 1000)};
        bufferevent_set_timeouts(bev, &timeout, nullptr);
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return channel;
}

Channel::~Channel() {
    *alive_ = false;
}

Status Channel::send(const Message& message) {
    if (!bev_) return fail("channel to " + options_.peer + " is closed");
    std::string frame = encodeFrame(message);
    if (frame.size() > options_.rules.maxFrameBytes) {
        return fail("message of " + std::to_string(frame.size()) + " bytes exceeds the limit of " +
                    std::to_string(options_.rules.maxFrameBytes));
    }
    if (bufferevent_write(bev_.get(), frame.data(), frame.size()) != 0) {
        return fail("cannot queue message to " + options_.peer);
    }
    return {};
}

void Channel::close() {
    bev_.reset();
    fd_.reset();
}

size_t Channel::pendingOutputBytes() const {
    return bev_ ? evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
}

void Channel::setReading(bool on) {
    if (!bev_) return;
    if (on) {
        bufferevent_enable(bev_.get(), EV_READ);
    } else {
        bufferevent_disable(bev_.get(), EV_READ);
    }
}

Status Channel::flushAndClose(std::chrono::milliseconds limit) {
    if (!bev_) return fail("channel to " + options_.peer + " is closed");
    // A bufferevent's output buffer is frozen at the front (no copyout, no drain), so peek
    // at the pending bytes and write them ourselves; close() drops what is left behind.
    evbuffer* output = bufferevent_get_output(bev_.get());
    std::vector<evbuffer_iovec> chunks(evbuffer_peek(output, -1, nullptr, nullptr, 0));
    evbuffer_peek(output, -1, nullptr, chunks.data(), static_cast<int>(chunks.size()));
    std::string pending;
    pending.reserve(evbuffer_get_length(output));
    for (const auto& chunk : chunks)
        pending.append(static_cast<char*>(chunk.iov_base), chunk.iov_len);
    int fd = fd_.get();
    auto deadline = std::chrono::steady_clock::now() + limit;
    Status result;
    for (size_t done = 0; done < pending.size() && result.ok();) {
        ssize_t n = ::write(fd, pending.data() + done, pending.size() - done);
        if (n >= 0) {
            done += static_cast<size_t>(n);
            continue;
        }
        if (errno != EAGAIN && errno != EINTR) {
            result = fail("write to " + options_.peer + ": " + std::strerror(errno));
            break;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd writable = {fd, POLLOUT, 0};
        if (left.count() <= 0 || poll(&writable, 1, static_cast<int>(left.count())) == 0) {
            result = fail("timed out writing to " + options_.peer);
        }
    }
    close();
    return result;
}

void Channel::onRead(bufferevent*, void* self) {
    static_cast<Channel*>(self)->readFrames();
}

void Channel::onEvent(bufferevent*, short events, void* self) {
    auto* channel = static_cast<Channel*>(self);
    if (events & BEV_EVENT_TIMEOUT) {
        channel->closeWith(
            CloseReason::Timeout,
            "no input for " + std::to_string(channel->options_.readTimeout.count()) + " ms");
    } else if (events & BEV_EVENT_ERROR) {
        channel->closeWith(CloseReason::IoError, std::strerror(EVUTIL_SOCKET_ERROR()));
    } else if (events & BEV_EVENT_EOF) {
        bool midFrame = evbuffer_get_length(bufferevent_get_input(channel->bev_.get())) > 0;
        if (midFrame) {
            channel->closeWith(CloseReason::Malformed, "connection closed inside a frame");
        } else {
            channel->closeWith(CloseReason::Eof, "connection closed");
        }
    }
}

DecodeResult Channel::nextFrame() {
    evbuffer* input = bufferevent_get_input(bev_.get());
    size_t buffered = evbuffer_get_length(input);
    size_t headerBytes = std::min(buffered, kFrameHeaderBytes);
    auto* header = reinterpret_cast<const char*>(evbuffer_pullup(input, headerBytes));
    DecodeResult result = decodeFrame(std::string_view(header, headerBytes), options_.rules);
    // Pull the frame together only once all of it is here: no copying per partial read.
    if (result.status != DecodeStatus::NeedMore || result.frameBytes == 0 ||
        buffered < result.frameBytes) {
        return result;
    }
    auto* frame = reinterpret_cast<const char*>(evbuffer_pullup(input, result.frameBytes));
    return decodeFrame(std::string_view(frame, result.frameBytes), options_.rules);
}

void Channel::readFrames() {
    auto alive = alive_;
    while (bev_) {
        DecodeResult result = nextFrame();
        if (result.status == DecodeStatus::NeedMore) return;
        if (result.status == DecodeStatus::Error) {
            closeWith(CloseReason::Malformed, result.error);
            return;
        }
        evbuffer_drain(bufferevent_get_input(bev_.get()), result.frameBytes);
        onMessage_(std::move(result.message));
        if (!*alive) return;  // the handler destroyed this channel
    }
}

void Channel::closeWith(CloseReason reason, const std::string& detail) {
    if (reason == CloseReason::Malformed) {
        log::warning("%s: %s; disconnecting", options_.peer.c_str(), detail.c_str());
    }
    close();
    CloseHandler onClose = std::move(onClose_);  // may destroy this channel
    if (onClose) onClose(reason, detail);
}

}  // namespace postern::ipc
