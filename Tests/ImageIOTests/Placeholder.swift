import Testing

@Suite struct ImageIOTestsPlaceholder {
    @Test func builds() {}
}
