// A tiny HTTP/1.1 server on 127.0.0.1 for download tests (weights are fetched from it instead of
// their official URLs, which test machines cannot reach): it serves fixed byte strings, and
// can cut a response short to imitate a connection dropped mid-file.
import Foundation
import Checkpoints
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class LocalHTTPServer: @unchecked Sendable {
    // Immutable after init; the accept thread only reads it.
    public enum Reply {
        case body(Data)
        /// Announces the full length but sends only `sent` bytes, then closes the connection.
        case cut(Data, sent: Int)
    }

    private let routes: [String: Reply]
    private let listener: Int32
    public let port: UInt16

    public var baseURL: URL {
        // Force-unwrap-free: the literal is well formed for any port.
        URL(string: "http://127.0.0.1:\(port)/") ?? URL(fileURLWithPath: "/")
    }

    public init(routes: [String: Reply]) throws {
        self.routes = routes
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw DownloadError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { close(fd); throw DownloadError("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in self.acceptLoop() }
        thread.start()
    }

    /// Stops accepting; the accept thread ends when accept() fails.
    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 { return }
            serve(connection)
            close(connection)
        }
    }

    private func serve(_ connection: Int32) {
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.suffix(4).elementsEqual([13, 10, 13, 10]) && request.count < 65536 {
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            request += buffer[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let path = line.count > 1 ? String(line[1].dropFirst()) : ""
        switch routes[path] {
        case let .body(data)?:
            send(connection, header(status: "200 OK", length: data.count) + data)
        case let .cut(data, sent)?:
            send(connection, header(status: "200 OK", length: data.count) + data.prefix(sent))
        case nil:
            send(connection, header(status: "404 Not Found", length: 0))
        }
    }

    private func header(status: String, length: Int) -> Data {
        Data("HTTP/1.1 \(status)\r\nContent-Length: \(length)\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n".utf8)
    }

    private func send(_ connection: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                #if canImport(Glibc)
                let n = Glibc.send(connection, raw.baseAddress?.advanced(by: offset), raw.count - offset, Int32(MSG_NOSIGNAL))
                #else
                let n = Darwin.send(connection, raw.baseAddress?.advanced(by: offset), raw.count - offset, 0)
                #endif
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
