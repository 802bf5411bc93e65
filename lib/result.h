// result.h: errors as values. Result<T> holds a T or an Error (a message for a person to
// read); Status is Result<void>. Used wherever a failure is expected input, not a bug, so
// no exception crosses the event loop.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace postern {

struct Error {
    std::string message;
};

// Makes an Error from a message; `return fail("bad thing: " + detail);`
inline Error fail(std::string message) { return Error{std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const std::string& error() const { return std::get<1>(state_).message; }
    // Passes this error on as another Result type: `if (!r) return r.failure();`
    Error failure() const { return std::get<1>(state_); }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : failed_(true), error_(std::move(error.message)) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const std::string& error() const { return error_; }
    Error failure() const { return Error{error_}; }

private:
    bool failed_ = false;
    std::string error_;
};

using Status = Result<void>;

}  // namespace postern
