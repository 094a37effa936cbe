import Testing

@Suite struct SuperGlueKitTestsPlaceholder {
    @Test func builds() {}
}
