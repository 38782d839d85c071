# frozen_string_literal: true

# Tests of the Ruby producer against a real redis-server: every case of
# ../conformance.json, then what the cases cannot say (versions, connection
# errors, Ruby's own types). tests/test_clients.c starts the server, declares
# the conformance setup in SLUICE_NAMESPACE and runs this file with
# SLUICE_REDIS_URL pointing at it.

$LOAD_PATH.unshift(__dir__)
require "minitest/autorun"
require "sluice"

CONFORMANCE = File.join(__dir__, "..", "conformance.json")
COMMON_LUA = File.join(__dir__, "..", "..", "lua", "common.lua")
SPECIAL = { "nan" => Float::NAN, "inf" => Float::INFINITY, "-inf" => -Float::INFINITY }.freeze

# A conformance value as Ruby's: {"$special": "nan"} is Float::NAN.
def native(value)
  case value
  when Hash then value.keys == ["$special"] ? SPECIAL.fetch(value["$special"]) : value.transform_values { |v| native(v) }
  when Array then value.map { |v| native(v) }
  else value
  end
end

def payload_of(spec)
  return native(spec["payload"]) if spec.key?("payload")
  return spec["payload_json"] if spec.key?("payload_json")
  return [spec["payload_hex"]].pack("H*") if spec.key?("payload_hex")

  gen = spec["payload_gen"]
  return "{\"p\":\"#{"x" * (gen["size"] - 8)}\"}" if gen.key?("size")

  ("{\"a\":" * (gen["nest"] - 1)) + "{}" + ("}" * (gen["nest"] - 1))
end

def opts_of(spec) = native(spec.fetch("opts", {})).transform_keys(&:to_sym)

def jobs_of(specs)
  specs.flat_map do |spec|
    (spec.key?("repeat") ? [spec["job"]] * spec["repeat"] : [spec]).map do |one|
      Sluice::Job.new(payload_of(one), **opts_of(one))
    end
  end
end

# The outcome of one case: a Hash of what it returned.
def run_case(c, k)
  case k["op"]
  when "enqueue" then { "id" => c.enqueue(k["class"], payload_of(k["job"]), **opts_of(k["job"])) }
  when "enqueue_many"
    ids = c.enqueue_many(k["class"], jobs_of(k["jobs"]))
    { "ids" => ids, "count" => ids.length, "first" => ids.first, "last" => ids.last }
  when "job" then c.job(k["id"]).to_h.transform_keys(&:to_s)
  when "cancel" then c.cancel(k["id"]) || { "ok" => true }
  when "stats" then c.stats(k["class"]).to_h.transform_keys(&:to_s)
  when "signal_report"
    c.report_signal(k["signal"], native(k["value"]), age_ms: k.fetch("age_ms", 0))
    { "ok" => true }
  when "url" then { "url" => Sluice.parse_url(k["url"]).transform_keys(&:to_s) }
  else raise "unknown op #{k["op"]}"
  end
end

# Why the outcome differs from the case's expectation, or nil.
def mismatch(k, got, error)
  want = k["expect"]
  if want.key?("error")
    return "expected #{want["error"]}, got #{got}" if error.nil?
    if error.word != want["error"] || !error.message.include?(want.fetch("message", ""))
      return "expected #{want["error"]} (#{want["message"]}), got #{error.word}: #{error.message}"
    end
    done = error.ids&.length
    return "expected #{want["done"]} done, got #{done.inspect}" if want.key?("done") && done != want["done"]

    return nil
  end
  return "expected #{want}, got #{error.word}: #{error.message}" if error

  want.each do |key, v|
    if key == "url"
      bad = v.reject { |f, x| got["url"][f] == x }
      return "url fields differ: #{bad.keys}" unless bad.empty?
    elsif got[key] != v
      return "#{key}: expected #{v.inspect}, got #{got[key].inspect}"
    end
  end
  nil
end

class TestConformance < Minitest::Test
  def test_every_conformance_case_gives_its_answer
    cases = JSON.parse(File.read(CONFORMANCE))["cases"]
    c = Sluice.connect
    failures = cases.filter_map do |k|
      got = nil
      error = nil
      begin
        got = run_case(c, k)
      rescue Sluice::Error => e
        error = e
      end
      why = mismatch(k, got, error)
      "#{k["name"]}: #{why}" if why
    end
    c.close
    warn "ruby: #{cases.length} conformance cases, #{cases.length - failures.length} passed, #{failures.length} failed"
    assert_equal [], failures
  end

  def test_the_errors_are_the_c_librarys_codes_and_words
    table = JSON.parse(File.read(CONFORMANCE))["errors"][1..]
    assert_equal table, Sluice::ERRORS.map { |e| [e.code, e.word] }
    Sluice::ERRORS.each { |e| assert e < Sluice::Error }
  end

  def test_the_client_speaks_the_version_in_queue_lua_common_lua
    version = File.read(COMMON_LUA)[/^local VERSION = (\d+)/, 1].to_i
    assert_equal version, Sluice::FUNCTIONS_VERSION
  end
end

# Redis holding no, an older or a newer Functions library: a clear
# ProtocolError on connect. The real library is restored after each.
class TestVersions < Minitest::Test
  def setup
    @admin = Redis.new(path: Sluice.parse_url[:path])
    @saved = @admin.call("FUNCTION", "DUMP")
  end

  def teardown
    @admin.call("FUNCTION", "RESTORE", @saved, "REPLACE")
    @admin.close
  end

  def load_version(version)
    @admin.call("FUNCTION", "LOAD", "REPLACE",
                "#!lua name=sluice\nredis.register_function{function_name='sluice_version', " \
                "callback=function() return #{version} end, flags={'no-writes'}}")
  end

  def test_an_older_library_is_refused_with_what_to_do
    load_version(Sluice::FUNCTIONS_VERSION - 1)
    e = assert_raises(Sluice::ProtocolError) { Sluice.connect }
    assert_includes e.message, "holds the sluice Functions v#{Sluice::FUNCTIONS_VERSION - 1}"
    assert_includes e.message, "upgrade them"
    assert_equal "protocol error", e.word
  end

  def test_a_newer_library_is_refused
    load_version(Sluice::FUNCTIONS_VERSION + 1)
    assert_match(/upgrade this client/, assert_raises(Sluice::ProtocolError) { Sluice.connect }.message)
  end

  def test_a_missing_library_is_refused
    @admin.call("FUNCTION", "DELETE", "sluice")
    assert_match(/not loaded/, assert_raises(Sluice::ProtocolError) { Sluice.connect }.message)
  end
end

class TestConnection < Minitest::Test
  def test_an_unreachable_redis_is_named_without_the_password
    e = assert_raises(Sluice::UnreachableError) { Sluice.connect(url: "unix://u:hunter2@/nonexistent/redis.sock") }
    assert_includes e.message, "cannot reach redis at unix:/nonexistent/redis.sock"
    refute_includes e.message, "hunter2"
  end

  def test_a_refused_password_is_an_auth_error_without_the_password
    url = ENV.fetch("SLUICE_REDIS_URL").sub("unix://", "unix://:hunter2@")
    e = assert_raises(Sluice::AuthError) { Sluice.connect(url: url) }
    assert_includes e.message, "authentication failed (check the user and password)"
    refute_includes e.message, "hunter2"
  end

  def test_a_bad_url_is_refused_before_connecting
    assert_raises(Sluice::UrlError) { Sluice.connect(url: "rediss://h") }
  end

  def test_the_namespace_comes_from_the_environment_and_is_checked
    c = Sluice.connect
    assert_equal ENV.fetch("SLUICE_NAMESPACE"), c.namespace
    c.close
    assert_raises(Sluice::InvalidArgumentError) { Sluice.connect(namespace: "a b") }
  end
end

class TestIdioms < Minitest::Test
  def setup
    @c = Sluice.connect
  end

  def teardown
    @c.close
  end

  def test_an_unknown_option_is_an_argument_error
    assert_raises(ArgumentError) { @c.enqueue("conf-free", {}, delay: 5) }
  end

  # Every key of the database with its value (DUMP): what a call wrote.
  def keyspace
    redis = Redis.new(path: Sluice.parse_url[:path])
    redis.scan_each(count: 1000).to_h { |k| [k, redis.dump(k)] }
  ensure
    redis&.close
  end

  def test_a_wait_longer_than_the_client_waits_is_refused_before_sending
    c = Sluice.connect(timeout: 1.0)
    before = keyspace
    err = assert_raises(Sluice::InvalidArgumentError) do
      c.enqueue("conf-free", {}, replicas: 1, replicas_timeout_ms: 1000)
    end
    assert_match(/below the client's timeout/, err.message)
    assert_equal before, keyspace
  ensure
    c&.close
  end

  def test_bad_input_writes_nothing
    before = keyspace
    [[{ x: Float::NAN }, {}], [{ x: "y" * 300_000 }, {}], [{}, { priority: "high" }], [{}, { cost: 1e300 }],
     [[{}], {}], ["{\"a\":1", {}], [{}, { max_attempts: 2.0 }], ["{\"a\":/*c*/1}", {}]].each do |payload, opts|
      assert_raises(Sluice::Error) { @c.enqueue("conf-free", payload, **opts) }
    end
    assert_raises(Sluice::InvalidPayloadError) { @c.enqueue_many("conf-free", [{}] * 5 + [{ x: Float::INFINITY }]) }
    assert_equal before, keyspace
  end

  def test_enqueue_many_options_apply_to_every_bare_payload
    ids = @c.enqueue_many("conf-free", [{ a: 1 }, Sluice::Job.new({ b: 2 }, priority: 3)], priority: -2)
    assert_equal [-2, 3], ids.map { |id| @c.job(id).priority }
    ids.each { |id| @c.cancel(id) }
  end
end
