from accesslog.parser import parse_line, parse_lines

COMBINED = (
    '203.0.113.7 - alice [10/Oct/2023:13:55:36 +0000] "GET /api/v1/items?page=2 HTTP/1.1" 200 2326 '
    '"https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64)"'
)


def test_combined_line():
    record = parse_line(COMBINED)
    assert (record.host, record.user, record.method, record.path) == ("203.0.113.7", "alice", "GET",
                                                                        "/api/v1/items?page=2")
    assert (record.status, record.size) == (200, 2326)
    assert record.referer == "https://shop.example/cart"
    assert record.agent == "Mozilla/5.0 (X11; Linux x86_64)"
    assert record.duration is None


def test_common_format_without_referer_and_agent():
    record = parse_line('198.51.100.2 - - [10/Oct/2023:13:55:37 +0200] "POST /login HTTP/1.1" 302 -')
    assert record.user is None and record.size == 0
    assert record.referer is None and record.agent is None


def test_ipv6_client_and_request_duration():
    line = '2001:db8::1 - - [10/Oct/2023:13:55:38 +0000] "GET /healthz HTTP/2.0" 204 0 "-" "kube-probe/1.29" 0.004'
    record = parse_line(line)
    assert record.host == "2001:db8::1"
    assert record.referer is None
    assert record.duration == 0.004


def test_nginx_hex_escapes_are_decoded():
    line = ('192.0.2.9 - - [10/Oct/2023:13:55:39 +0000] "GET /q?x=\\x22a\\x22 HTTP/1.1" 200 12 "-" '
            '"curl/8.4.0 \\x22custom\\x22"')
    record = parse_line(line)
    assert record.path == '/q?x="a"'
    assert record.agent == 'curl/8.4.0 "custom"'


def test_tls_noise_is_kept_as_a_record_without_method():
    record = parse_line('192.0.2.10 - - [10/Oct/2023:13:55:40 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"')
    assert record.status == 400
    assert record.method is None and record.request == "\x16\x03\x01\x00"


def test_malformed_lines_are_collected_with_numbers():
    lines = [COMBINED, "", "garbage", COMBINED.replace("10/Oct/2023", "10/Okt/2023"), COMBINED + "\n"]
    result = parse_lines(lines)
    assert len(result.records) == 2
    assert [number for number, _ in result.malformed] == [3, 4]
