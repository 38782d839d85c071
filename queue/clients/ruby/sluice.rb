# frozen_string_literal: true

# sluice producer for Ruby (Debian's ruby-redis 4.8).
#
# Enqueues jobs, looks them up, cancels them, reads a class's counters and
# reports signal values, through the Redis Functions of sluice (their
# contract: queue/lua/*.lua). Checks what it sends exactly as the C library
# does, and raises the C library's errors: each Sluice::Error carries #code
# (e.g. "SLUICE_ERR_QUEUE_FULL") and #word ("queue full").
#
#   require "sluice"
#   c = Sluice.connect                     # SLUICE_REDIS_URL, SLUICE_NAMESPACE
#   c.enqueue("certificates", { user: 42 }, unique: "cert-42")
#   c.close
#
# A client is one connection (on a Redis Cluster, one per master); it is not
# thread-safe (use one per thread). The URL may be of any node of a Redis
# Cluster, or redis-sentinel:// (see Sluice.parse_url).

require "json"
require "redis"

module Sluice
  FUNCTIONS_VERSION = 10 # the Functions library this client speaks (queue/lua/common.lua)
  DEFAULT_URL = "redis://127.0.0.1:6379"
  DEFAULT_NAMESPACE = "sluice"
  BATCH_MAX = 1000 # jobs per Function call
  PAYLOAD_HARD_MAX = 262_144 # bytes
  PAYLOAD_MAX_DEPTH = 32
  SENTINELS_MAX = 16
  CLASS_KEYS = %w[class gate ready delayed leased dead jobs meta unique stats done audit bucket deadlines
                  parked].freeze
  SIGNAL_KEYS = %w[signals signal-values audit].freeze
  STAT_FIELDS = %i[enqueued claimed acked failed retried died reclaimed released cancelled throttled
                   dead_dropped purged late expired].freeze
  NAME = /\A[a-z0-9][a-z0-9_.-]{0,63}\z/.freeze
  NAMESPACE = /\A[A-Za-z0-9_.:-]{1,64}\z/.freeze
  JOB_ID = /\A([a-z0-9][a-z0-9_.-]{0,63}):[0-9]{1,20}\z/.freeze
  INT64 = (-(2**63))..(2**63 - 1)

  # ------------------------------- errors --------------------------------

  # A sluice error: #code and #word as the C library's (include/sluice/error.h,
  # sluice_error_name); the message names the problem.
  class Error < StandardError
    class << self
      attr_reader :code, :word
    end

    def code = self.class.code
    def word = self.class.word

    # The ids of the calls that stood before an enqueue_many failed.
    attr_accessor :ids
  end

  # In the order of the C enum.
  ERRORS = [
    %w[UnreachableError SLUICE_ERR_UNREACHABLE unreachable],
    %w[AuthError SLUICE_ERR_AUTH authentication\ failed],
    %w[UrlError SLUICE_ERR_URL bad\ url],
    %w[InvalidNameError SLUICE_ERR_NAME invalid\ name],
    %w[InvalidPayloadError SLUICE_ERR_PAYLOAD invalid\ payload],
    %w[InvalidArgumentError SLUICE_ERR_ARGUMENT invalid\ argument],
    %w[UnknownClassError SLUICE_ERR_UNKNOWN_CLASS unknown\ class],
    %w[QueueFullError SLUICE_ERR_QUEUE_FULL queue\ full],
    %w[StaleTokenError SLUICE_ERR_STALE stale\ token],
    %w[NotFoundError SLUICE_ERR_NOT_FOUND not\ found],
    %w[BusyError SLUICE_ERR_BUSY busy],
    %w[WrongStateError SLUICE_ERR_STATE wrong\ state],
    %w[ServerError SLUICE_ERR_SERVER server\ error],
    %w[ProtocolError SLUICE_ERR_PROTOCOL protocol\ error],
    %w[OutOfMemoryError SLUICE_ERR_NOMEM out\ of\ memory],
    %w[UnavailableError SLUICE_ERR_UNAVAILABLE unavailable],
    %w[NotReplicatedError SLUICE_ERR_NOT_REPLICATED not\ replicated]
  ].map do |name, code, word|
    const_set(name, Class.new(Error) do
      @code = code
      @word = word
    end)
  end.freeze

  # The Functions' error words (queue/lua/common.lua).
  DOMAIN = { "NOCLASS" => UnknownClassError, "BADNAME" => InvalidNameError, "BADARG" => InvalidArgumentError,
             "PAYLOAD" => InvalidPayloadError, "FULL" => QueueFullError, "STALE" => StaleTokenError,
             "NOTFOUND" => NotFoundError, "BUSY" => BusyError, "STATE" => WrongStateError }.freeze
  AUTH_REFUSALS = ["WRONGPASS", "NOAUTH", "ERR invalid password", "ERR AUTH"].freeze
  TRANSIENT = %w[LOADING BUSY MASTERDOWN TRYAGAIN CLUSTERDOWN MOVED ASK].freeze
  ACL_IN_SCRIPT = "ERR The user executing the script can't"

  def self.word_at?(line, word) = line == word || line.start_with?("#{word} ")

  # The error for a Redis error reply +line+, as the C library maps it.
  def self.from_line(line, what)
    trailer = line.index(" script:")
    body = trailer ? line[0, trailer] : line
    return AuthError.new("#{what}: authentication failed (check the user and password)") if
      line.start_with?(*AUTH_REFUSALS)
    if !trailer && (word = TRANSIENT.find { |w| word_at?(body, w) })
      return UnavailableError.new("#{what}: redis cannot serve now (retry later): #{body[0, 160]}")
    end
    DOMAIN.each do |w, cls|
      return cls.new("#{what}: #{body.length > w.length ? body[(w.length + 1)..] : w}") if word_at?(body, w)
    end
    return ServerError.new("#{what}: redis: NOPERM (ACL) #{body[4, 180]}") if line.start_with?(ACL_IN_SCRIPT)

    ServerError.new("#{what}: redis: #{body[0, 200]}")
  end

  # The Sluice::Error for an exception of redis-rb.
  def self.from_redis(err, what)
    return UnreachableError.new("#{what}: lost the link to redis: #{err.message}") if
      err.is_a?(Redis::BaseConnectionError)

    from_line(err.message, what)
  end

  # -------------------------------- checks --------------------------------

  def self.check_name(name)
    raise InvalidNameError, "invalid name: must match ^[a-z0-9][a-z0-9_.-]{0,63}$" unless
      name.is_a?(String) && NAME.match?(name)

    name
  end

  def self.class_of_id(id)
    m = id.is_a?(String) && JOB_ID.match(id)
    raise InvalidArgumentError, "invalid job id: expected <class>:<number>" unless m

    m[1]
  end

  JSON_STRING = /"(?:[^"\\]++|\\.)*+"/m.freeze

  # JSON text the parser below lets through but the C library refuses: a
  # control character inside a string, a comment or anything else outside.
  def self.lax_json?(text)
    text.scan(JSON_STRING).any? { |s| s.match?(/[\x00-\x1f]/) } ||
      !text.gsub(JSON_STRING, '""').match?(/\A[ \t\n\r{}\[\]:,0-9A-Za-z.+\-"]*\z/)
  end

  # Raises for a decoded payload with an integer past 64 bits, a number past
  # a double, or a NUL in a string.
  def self.check_values(value)
    stack = [value]
    until stack.empty?
      v = stack.pop
      case v
      when Hash then v.each { |k, x| stack << k << x }
      when Array then stack.concat(v)
      when Integer then raise InvalidPayloadError, "invalid payload: not JSON (too big integer)" unless INT64.cover?(v)
      when Float then raise InvalidPayloadError, "invalid payload: not JSON (real number overflow)" if v.infinite?
      when String then raise InvalidPayloadError, "invalid payload: contains a NUL byte" if v.include?("\0")
      end
    end
  end

  # The payload as the bytes enqueue sends: a String is JSON text, sent as it
  # is; a Hash is encoded. Checked as the C library's sluice_payload_check
  # does: a JSON object, at most 256 KiB, nested at most 32 deep, valid UTF-8,
  # no NUL, no NaN or Infinity, integers within 64 bits. Raises
  # InvalidPayloadError.
  def self.payload_check(payload)
    text = case payload
           when String then payload.dup.force_encoding(Encoding::UTF_8)
           when Hash
             begin
               JSON.generate(payload)
             rescue JSON::GeneratorError, JSON::NestingError, EncodingError => e
               raise InvalidPayloadError, "invalid payload: cannot be encoded as JSON (#{e.message[0, 100]})"
             end
           else raise InvalidPayloadError, "invalid payload: not a JSON object"
           end
    if text.bytesize > PAYLOAD_HARD_MAX
      raise InvalidPayloadError, "invalid payload: #{text.bytesize} bytes is over the #{PAYLOAD_HARD_MAX}-byte cap"
    end
    raise InvalidPayloadError, "invalid payload: contains a NUL byte" if text.include?("\0")
    raise InvalidPayloadError, "invalid payload: not JSON (not valid UTF-8)" unless text.valid_encoding?
    raise InvalidPayloadError, "invalid payload: not JSON" if lax_json?(text)

    begin
      value = JSON.parse(text, max_nesting: PAYLOAD_MAX_DEPTH, allow_nan: false, create_additions: false)
    rescue JSON::NestingError
      raise InvalidPayloadError, "invalid payload: nested deeper than #{PAYLOAD_MAX_DEPTH}"
    rescue JSON::ParserError, EncodingError => e
      raise InvalidPayloadError, "invalid payload: not JSON (#{e.message[0, 100]})"
    end
    raise InvalidPayloadError, "invalid payload: not a JSON object" unless value.is_a?(Hash)

    check_values(value)
    text.b
  end

  # name, range, in the C library's order (opts_check); the unique key's
  # range is of its length in UTF-8 bytes
  OPTIONS = [
    [:delay_ms, 0..3_153_600_000_000],
    [:run_at_ms, 0..253_402_300_799_000],
    [:priority, -1000..1000],
    [:max_attempts, 0..1000],
    [:timeout_ms, 0..604_800_000],
    [:unique, 0..256],
    [:cost, 0..1_000_000]
  ].freeze
  # the start_by options, sent after the fairness key, in the same way
  START_OPTIONS = [
    [:start_by_ms, 0..253_402_300_799_000],
    [:start_within_ms, 0..253_402_300_799_000]
  ].freeze
  # the WAIT after the enqueue, checked with the others, never sent to the Function
  WAIT_OPTIONS = [
    [:replicas, 0..64],
    [:replicas_timeout_ms, 0..60_000]
  ].freeze
  WAIT_TIMEOUT_DEFAULT = 1000 # ms

  def self.out_of_range(what, range)
    InvalidArgumentError.new("invalid option: #{what} must be in #{range.min}..#{range.max}")
  end

  # The fairness key argument, checked as the C library checks it: nil or ""
  # for none, else 1..128 bytes of UTF-8 text without a control byte.
  def self.fairness_key(v)
    return "" if v.nil? || v == ""
    unless v.is_a?(String) && v.dup.force_encoding(Encoding::UTF_8).valid_encoding?
      raise InvalidArgumentError, "invalid option: fairness key: must be UTF-8 text"
    end
    raise InvalidArgumentError, "invalid option: fairness key: must be 1..128 bytes" if v.bytesize > 128
    raise InvalidArgumentError, "invalid option: fairness key: contains a control byte" if v.b.match?(/[\x00-\x1f\x7f]/n)

    v
  end

  # The ten Function arguments after the payload, checked as the C library
  # checks them: each range in order, then delay_ms against run_at_ms, then
  # the fairness key, then start_by_ms against start_within_ms. nil is the
  # default.
  def self.option_args(opts)
    args = (OPTIONS + START_OPTIONS + WAIT_OPTIONS).map do |name, range|
      v = opts[name]
      if name == :unique
        v = "" if v.nil?
        unless v.is_a?(String) && !v.include?("\0") && v.dup.force_encoding(Encoding::UTF_8).valid_encoding?
          raise InvalidArgumentError, "invalid option: the unique key must be UTF-8 text without NUL"
        end
        raise out_of_range("the unique key's length", range) unless range.cover?(v.bytesize)

        next v
      end
      v = 0 if v.nil?
      raise out_of_range(name, range) unless v.is_a?(Integer) && range.cover?(v)

      v.to_s
    end
    args.pop(WAIT_OPTIONS.length)
    raise InvalidArgumentError, "invalid option: delay_ms and run_at_ms are exclusive" if args[0] != "0" && args[1] != "0"
    if args[-2] != "0" && args[-1] != "0"
      raise InvalidArgumentError, "invalid option: start_by_ms and start_within_ms are exclusive"
    end

    args.insert(OPTIONS.length, fairness_key(opts[:key]))
  end

  # A payload with options of its own, for enqueue_many.
  class Job
    attr_reader :payload, :opts

    def initialize(payload, delay_ms: nil, run_at_ms: nil, priority: nil, max_attempts: nil, timeout_ms: nil,
                   unique: nil, cost: nil, key: nil, start_by_ms: nil, start_within_ms: nil, replicas: nil,
                   replicas_timeout_ms: nil)
      @payload = payload
      @opts = { delay_ms: delay_ms, run_at_ms: run_at_ms, priority: priority, max_attempts: max_attempts,
                timeout_ms: timeout_ms, unique: unique, cost: cost, key: key, start_by_ms: start_by_ms,
                start_within_ms: start_within_ms, replicas: replicas, replicas_timeout_ms: replicas_timeout_ms }
    end
  end

  # --------------------------------- URLs ---------------------------------

  def self.url_decode(str, what, size)
    raise UrlError, "bad url: malformed #{what}" if str.match?(/%(?![0-9A-Fa-f]{2})/) || str.include?("%00")

    raw = str.gsub(/%([0-9A-Fa-f]{2})/) { Regexp.last_match(1).hex.chr }.force_encoding(Encoding::UTF_8)
    raise UrlError, "bad url: malformed #{what}" if raw.bytesize >= size || !raw.valid_encoding?

    raw
  end

  def self.userinfo(str, url)
    head = str[%r{\A[^/]*}]
    at = head.rindex("@")
    return str unless at

    user, colon, password = head[0, at].partition(":")
    url[:user] = url_decode(user, "user name", 256)
    if colon.empty? # redis://secret@host: a lone word is the password
      url[:password] = url[:user]
      url[:user] = ""
    else
      url[:password] = url_decode(password, "password", 512)
    end
    str[(at + 1)..]
  end

  def self.url_number(str, max, what)
    raise UrlError, "bad url: #{what}" unless str.match?(/\A[0-9]{1,10}\z/) && str.to_i <= max

    str.to_i
  end

  def self.bad_query(query, allowed)
    name = query[1..].split(/[=&]/, 2)[0].to_s[0, 32]
    raise UrlError, "bad url: unknown query parameter '#{name}' (#{allowed})"
  end

  # host[:port] or [v6]:port as [host, port], checked as the C library's.
  def self.address(hostport, default_port)
    port = nil
    if hostport.start_with?("[")
      close = hostport.index("]") or raise UrlError, "bad url: unclosed [ in host"
      host = hostport[1...close]
      rest = hostport[(close + 1)..]
      if rest.start_with?(":") then port = rest[1..]
      elsif !rest.empty? then raise UrlError, "bad url: junk after ]"
      end
    else
      host, colon, port = hostport.partition(":")
      port = nil if colon.empty?
    end
    raise UrlError, "bad url: missing or overlong host" if host.empty? || host.bytesize >= 256
    raise UrlError, "bad url: invalid character in host" unless host.match?(/\A[A-Za-z0-9.:_-]+\z/)
    return [host, default_port] if port.nil?

    port = url_number(port, 65_535, "port must be 1..65535")
    raise UrlError, "bad url: port must be 1..65535" if port.zero?

    [host, port]
  end

  # redis-sentinel://[user:password@]host[:port][,...]/MASTER[?db=N] after the scheme.
  def self.sentinel_url(str, u)
    addresses, _, rest = userinfo(str, u).partition("/")
    listed = addresses.split(",", -1)
    listed = [""] if listed.empty?
    listed.each_with_index do |a, i|
      if a.empty?
        raise UrlError, "bad url: empty sentinel address after a comma" if i.positive? && i == listed.length - 1

        raise UrlError, "bad url: redis-sentinel:// needs host:port of each sentinel, separated by commas"
      end
      raise UrlError, "bad url: more than #{SENTINELS_MAX} sentinels" if u[:sentinels].length == SENTINELS_MAX

      u[:sentinels] << address(a, 26_379)
    end
    master, q, query = rest.partition("?")
    unless (1..64).cover?(master.length)
      raise UrlError, "bad url: redis-sentinel:// needs the master's name after the sentinels: /NAME, " \
                      "1..64 characters"
    end
    raise UrlError, "bad url: the master's name may hold only [A-Za-z0-9_.-]" unless
      master.match?(/\A[A-Za-z0-9_.-]+\z/)

    u[:master] = master
    unless q.empty?
      bad_query("?#{query}", "the only query is ?db=N") unless query.start_with?("db=")
      u[:db] = url_number(query[3..], 100_000, "?db= must be a number")
    end
    u
  end

  # A connection URL as a Hash (:unix, :host, :port, :path, :user, :password,
  # :db, :sentinels, :master), parsed as the C library's sluice_url_parse:
  # redis://[user:password@]host[:port][/db],
  # unix://[user:password@]/path[?db=N] or
  # redis-sentinel://[user:password@]host[:port][,...]/MASTER[?db=N]
  # (:sentinels: [host, port] of each, port 26379 by default; :host and
  # :port unset). nil or "" takes SLUICE_REDIS_URL, else
  # redis://127.0.0.1:6379. Raises UrlError (never quoting the password).
  def self.parse_url(url = nil)
    url = ENV["SLUICE_REDIS_URL"] if url.nil? || url == ""
    url = DEFAULT_URL if url.nil? || url == ""
    u = { unix: false, host: "", port: 0, path: "", user: "", password: "", db: 0, sentinels: [], master: "" }
    raise UrlError, "bad url: not a string" unless url.is_a?(String)
    raise UrlError, "bad url: too long" if url.bytesize > 2048
    raise UrlError, "bad url: contains a space or control character" if url.b.match?(/[\x00-\x20\x7f]/n)

    if url.start_with?("unix://")
      s = userinfo(url[7..], u)
      raise UrlError, "bad url: unix:// needs an absolute socket path" unless s.start_with?("/")

      path, q, query = s.partition("?")
      raise UrlError, "bad url: socket path is too long" if path.bytesize >= 108

      unless q.empty?
        bad_query("?#{query}", "the only query is ?db=N") unless query.start_with?("db=")
        u[:db] = url_number(query[3..], 100_000, "?db= must be a number")
      end
      return u.merge(unix: true, path: path)
    end
    return sentinel_url(url[17..], u) if url.start_with?("redis-sentinel://")
    raise UrlError, "bad url: scheme must be redis:// or unix:// (or redis-sentinel://)" unless
      url.start_with?("redis://")

    s = userinfo(url[8..], u)
    if (q = s.index("?"))
      bad_query(s[q..], "redis:// takes none: the database goes in the path, redis://host:port/N")
    end
    hostport, slash, db = s.partition("/")
    u[:host], u[:port] = address(hostport, 6379)
    u[:db] = url_number(db, 100_000, "database must be a number") unless slash.empty? || db.empty?
    u
  end

  # -------------------------------- results --------------------------------

  # What a lookup tells about a job; times are Unix ms by the Redis clock.
  # state: "unknown" (done and gone, or never), delayed, ready, leased, dead
  # or done; at: due (delayed), lease deadline (leased), ended (dead, done);
  # ahead: ready jobs before it (ready only, else -1); start_by: its deadline
  # for its first start while it waits, else 0; key: its fairness key, "" for
  # none.
  JobInfo = Struct.new(:id, :state, :attempt, :max_attempts, :priority, :cost, :enqueued_at, :at, :now,
                       :reclaims, :ahead, :reason, :payload, :unique, :start_by, :key, keyword_init: true)

  # A class's depths and its counters since it was declared.
  ClassStats = Struct.new(:ready, :delayed, :leased, :dead, *STAT_FIELDS, keyword_init: true)

  def self.int(v)
    Integer(v)
  rescue ArgumentError, TypeError
    raise ProtocolError, "unexpected reply (version skew?)"
  end

  def self.text(v) = v.to_s.dup.force_encoding(Encoding::UTF_8)

  def self.skew(version)
    if version.nil?
      "the sluice Functions are not loaded in this Redis: connect once with the deploy role " \
        "(e.g. sluicectl status) to load them"
    elsif version.is_a?(Integer) && version < FUNCTIONS_VERSION
      "this Redis holds the sluice Functions v#{version}, this client needs v#{FUNCTIONS_VERSION}: " \
        "upgrade them (connect once with the deploy role, e.g. sluicectl status, of this sluice)"
    else
      "this Redis holds the sluice Functions v#{version}, this client speaks v#{FUNCTIONS_VERSION}: " \
        "upgrade this client"
    end
  end

  # --------------------------------- client ---------------------------------

  # Raises ProtocolError unless the Redis behind +redis+ holds the Functions
  # this client speaks (or the error of the link, naming +where+).
  def self.check_functions(redis, where)
    version = begin
      redis.call("FCALL_RO", "sluice_version", "0")
    rescue Redis::CommandError => e
      raise from_redis(e, "checking the sluice Functions") unless e.message.start_with?("ERR Function not found")
    rescue Redis::BaseConnectionError => e
      raise UnreachableError, "cannot reach redis at #{where}: #{e.message}"
    end
    raise ProtocolError, skew(version) unless version == FUNCTIONS_VERSION
  end

  # The server's HELLO 2 fields (mode, role...): every ACL user may ask,
  # where INFO may be refused.
  def self.hello(redis) = redis.call("HELLO", "2").each_slice(2).to_h

  # A NEW redis-rb link (+conn+: where). reconnect_attempts 0: a call whose
  # link broke is never sent again.
  def self.link(conn, common) = Redis.new(**conn, **common, reconnect_attempts: 0)

  # A NEW redis-rb link (+conn+: where), its Functions checked.
  def self.checked_link(conn, common, where)
    redis = link(conn, common)
    check_functions(redis, where)
    redis
  rescue Error
    redis&.close
    raise
  end

  # The master that the sentinels of +u+ name, through redis-rb's sentinel
  # support (it asks them again on each reconnect), its role checked with
  # HELLO (redis-rb's check needs ROLE, which an ACL role may lack). The
  # sentinels are asked without credentials: the URL's are the data nodes'.
  # Raises NotFoundError when every sentinel that answers does not know the
  # master's name, UnreachableError when none answers or names a master that
  # answers.
  def self.sentinel_master(u, common)
    sentinels = u[:sentinels].map { |h, p| { host: h, port: p } }
    redis = checked_link({ host: u[:master], sentinels: sentinels, role: :master }, common,
                         "the master #{u[:master]}")
    role = begin
      hello(redis)["role"]
    rescue Redis::BaseError => e
      redis.close
      raise from_redis(e, "connect")
    end
    return redis if role == "master"

    redis.close
    raise UnreachableError, "the server the sentinels name as the master '#{u[:master]}' is a #{role}"
  rescue UnreachableError
    known = sentinels.map do |s|
      r = Redis.new(**s, timeout: common[:timeout], connect_timeout: 2.0, reconnect_attempts: 0)
      !r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", u[:master]).nil?
    rescue Redis::BaseError
      nil
    ensure
      r&.close
    end.compact
    raise NotFoundError, "no sentinel knows a master named '#{u[:master]}'" if !known.empty? && known.none?

    raise UnreachableError, "no sentinel at #{u[:sentinels].map { |a| a.join(':') }.join(', ')} names a " \
                            "master '#{u[:master]}' that answers"
  end

  # The masters of a Redis Cluster, used as the C library uses them: the
  # slot map from CLUSTER SLOTS, one link per master opened on first use
  # (its Functions checked), each call sent straight to its slot's master;
  # MOVED and ASK followed, TRYAGAIN and CLUSTERDOWN retried for up to about
  # 0.6 s. A call is sent again only when its reply proves it did not run.
  # (redis-rb's cluster: sends FCALL to a random node, its keys unknown.)
  class Cluster
    RETRY_S = 0.6
    REDIRECTS_MAX = 16 # MOVED and ASK in a row
    DID_NOT_RUN = ["MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN"].freeze # error replies that prove it

    def initialize(seed, addr, common)
      @seed = [addr, seed] # the URL's node (any node: it may be a replica)
      @common = common
      @links = {} # [host, port] of a master => its link, its Functions checked
      @nodes = [] # [host, port] of every node of the last map, masters and replicas
      @slots = nil
      load_slots
    end

    # Reads the slot map from the first node that answers: a master it has
    # a link to, the URL's node, then any other node of the last map
    # (through a link of its own, closed after), so that a URL's node or a
    # master that died is not needed again.
    def load_slots
      last = nil
      tried = [*@links, @seed].map do |addr, link|
        return read_map(link, addr[0])
      rescue Redis::BaseConnectionError => e
        last = e
        addr
      end
      (@nodes - tried).each do |addr|
        link = Sluice.link({ host: addr[0], port: addr[1] }, @common)
        begin
          return read_map(link, addr[0])
        rescue Redis::BaseConnectionError => e
          last = e
        ensure
          link.close
        end
      end
      raise last
    end

    # The slot map and the nodes from CLUSTER SLOTS on +link+ (of a node on
    # +host+, for an entry without a host).
    def read_map(link, host)
      slots = Array.new(16_384)
      nodes = []
      link.call("CLUSTER", "SLOTS").each do |first, last_slot, *entries|
        addrs = entries.map { |(h, port)| [h.to_s.empty? ? host : h, Integer(port)] }
        slots.fill(addrs[0], first..last_slot)
        nodes |= addrs
      end
      @slots = slots
      @nodes = nodes
    end

    # A link broke: the next call reads the slot map again.
    def lost = @slots = nil

    def link(addr)
      @links[addr] ||= Sluice.checked_link({ host: addr[0], port: addr[1] }, @common, addr.join(":"))
    end

    def slot(tag) = Redis::Cluster::KeySlotConverter.convert(tag)

    # The address of the master of the slot of keys tagged {tag}.
    def master(tag)
      load_slots if @slots.nil?
      @slots[slot(tag)]
    end

    # The reply of +command+ from the master of tag's slot.
    def call(tag, command)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + RETRY_S
      addr = master(tag)
      asking = false
      hops = 0
      begin
        link = link(addr)
        link.call("ASKING") if asking
        link.call(*command)
      rescue Redis::CommandError => e
        hops = e.message.start_with?("MOVED ", "ASK ") ? hops + 1 : 0
        redo_at = (again(tag, e.message, deadline) if hops <= REDIRECTS_MAX) or raise
        addr, asking = redo_at
        retry
      rescue Redis::BaseConnectionError
        lost
        raise
      end
    end

    # Where to send again a call whose error reply +line+ proves it did not
    # run: [address, asking], or nil.
    def again(tag, line, deadline)
      word, _, rest = line.partition(" ")
      if %w[MOVED ASK].include?(word)
        host, _, port = rest.partition(" ")[2].rpartition(":")
        addr = [host.empty? ? master(tag)[0] : host, Integer(port)]
        @slots[slot(tag)] = addr if word == "MOVED"
        return [addr, word == "ASK"]
      end
      return unless %w[TRYAGAIN CLUSTERDOWN].include?(word) &&
                    Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline

      sleep 0.05
      load_slots if word == "CLUSTERDOWN"
      [master(tag), false]
    end

    def close = [@seed[1], *@links.values].each(&:close)
  end
  private_constant :Cluster

  # A connection to the Redis that holds sluice's queues (a plain server, a
  # Redis Cluster of which the URL names any node, or the master that the
  # sentinels of a redis-sentinel:// URL name). Make one with Sluice.connect;
  # close it with #close.
  class Client
    attr_reader :namespace

    def initialize(url: nil, namespace: nil, timeout: 5.0)
      u = Sluice.parse_url(url)
      ns = namespace || ENV["SLUICE_NAMESPACE"]
      ns = DEFAULT_NAMESPACE if ns.nil? || ns == ""
      raise InvalidArgumentError, "namespace must be 1..64 of [A-Za-z0-9_.:-]" unless
        ns.is_a?(String) && NAMESPACE.match?(ns)

      @namespace = ns
      @timeout = timeout
      @cluster = nil
      @sentinel = !u[:master].empty?
      common = { db: u[:db], username: (u[:user] unless u[:user].empty?),
                 password: (u[:password] unless u[:password].empty?), timeout: timeout, connect_timeout: 2.0 }
      if @sentinel
        @redis = Sluice.sentinel_master(u, common)
      elsif u[:unix]
        @redis = Sluice.checked_link({ path: u[:path] }, common, "unix:#{u[:path]}")
      else
        where = "#{u[:host]}:#{u[:port]}"
        @redis = Sluice.link({ host: u[:host], port: u[:port] }, common)
        begin
          if Sluice.hello(@redis)["mode"] == "cluster"
            @cluster = Cluster.new(@redis, [u[:host], u[:port]], common)
          else
            Sluice.check_functions(@redis, where)
          end
        rescue Redis::BaseConnectionError => e
          raise_closed(UnreachableError.new("cannot reach redis at #{where}: #{e.message}"))
        rescue Redis::BaseError => e
          raise_closed(Sluice.from_redis(e, "connect to #{where}"))
        rescue Error => e
          raise_closed(e)
        end
      end
    end

    def close
      @cluster ? @cluster.close : @redis.close
    end

    # Enqueues one job; returns its id ("<class>:<n>"), or for a unique key
    # a live job holds, that job's id. Raises InvalidNameError,
    # InvalidPayloadError, InvalidArgumentError, UnknownClassError,
    # QueueFullError or a connection error; then no job was created.
    def enqueue(cls, payload, **opts)
      enqueue_many(cls, [Job.new(payload, **opts)])[0]
    end

    # Enqueues jobs of one class in one round trip: pipelined calls of up to
    # 1000 jobs, each atomic. An element is a payload (with +opts+, the
    # options of #enqueue) or a Sluice::Job with options of its own.
    # Everything is checked before anything is sent. Returns the ids in order.
    # On a failure the error's #ids holds the ids of the calls before the
    # failing one, which stand.
    #
    # With +replicas+ N (0..64; the most any job asks), WAIT N follows the
    # calls on the same connection for +replicas_timeout_ms+ (1..60000,
    # default 1000, the longest any job asks; below the client's timeout):
    # fewer replicas confirming them raises NotReplicatedError, whose #ids
    # holds every id (the jobs were created; a failover now may lose them).
    def enqueue_many(cls, jobs, **opts)
      Sluice.check_name(cls)
      defaults = Job.new(nil, **opts).opts
      replicas = 0
      wait_ms = 0
      args = jobs.each_with_index.map do |job, i|
        job = Job.new(job, **defaults) unless job.is_a?(Job)
        arg = [Sluice.payload_check(job.payload), *Sluice.option_args(job.opts)]
        if job.opts[:replicas].to_i.positive?
          replicas = [replicas, job.opts[:replicas]].max
          wait_ms = [wait_ms, job.opts[:replicas_timeout_ms].to_i].max
        end
        arg
      rescue Error => e
        err = e.class.new(jobs.length > 1 ? "job #{i}: #{e.message}" : e.message)
        err.ids = []
        raise err
      end
      wait_ms = WAIT_TIMEOUT_DEFAULT if wait_ms.zero?
      if replicas.positive? && @timeout && wait_ms >= @timeout * 1000
        err = InvalidArgumentError.new("invalid option: replicas_timeout_ms must be below the client's timeout " \
                                       "(#{(@timeout * 1000).round} ms)")
        err.ids = []
        raise err
      end
      keys = keys_of(cls, CLASS_KEYS)
      commands = args.each_slice(BATCH_MAX).map do |batch|
        ["FCALL", "sluice_enqueue", keys.length.to_s, *keys, cls, batch.length.to_s, *batch.flatten]
      end
      # on the calls' connection: WAIT counts that connection's writes
      commands << ["WAIT", replicas.to_s, wait_ms.to_s] if replicas.positive? && !args.empty?
      results = replies(cls, commands, "enqueue")
      acked = results.pop if replicas.positive? && !args.empty?
      ids = []
      results.each do |reply|
        if reply.is_a?(Exception)
          reply.ids = ids
          raise reply
        end
        ids.concat(reply.map { |x| Sluice.text(x) })
      end
      confirm(acked, replicas, wait_ms, ids) if replicas.positive? && !args.empty?
      ids
    end

    # Looks a job up by id: a JobInfo (state "unknown" for a job that is gone
    # or never was). Raises InvalidArgumentError for a malformed id.
    def job(id)
      cls = Sluice.class_of_id(id)
      r = fcall("sluice_job", cls, CLASS_KEYS, [cls, id, "1"], "job lookup")
      return JobInfo.new(id: id, state: "unknown", ahead: -1) if r.length == 1
      raise ProtocolError, "job lookup: unexpected reply" unless r.length == 15

      n = [1, 2, 3, 4, 5, 6, 7, 10, 11, 13].map { |i| Sluice.int(r[i]) }
      JobInfo.new(id: id, state: Sluice.text(r[0]), attempt: n[0], max_attempts: n[1], priority: n[2], cost: n[3],
                  enqueued_at: n[4], at: n[5], reclaims: n[6], ahead: n[7], now: n[8], reason: Sluice.text(r[8]),
                  payload: Sluice.text(r[9]), unique: Sluice.text(r[12]), start_by: n[9],
                  key: Sluice.text(r[14]))
    end

    # Cancels a waiting (ready or delayed) job, audited under +actor+. Raises
    # NotFoundError, BusyError (leased) or WrongStateError.
    def cancel(id, actor: "sluice-ruby")
      cls = Sluice.class_of_id(id)
      fcall("sluice_cancel", cls, CLASS_KEYS, [cls, id, actor], "cancel")
      nil
    end

    # A class's depths and counters (ClassStats).
    def stats(cls)
      Sluice.check_name(cls)
      r = fcall("sluice_stats", cls, CLASS_KEYS, [cls], "stats")
      raise ProtocolError, "stats: unexpected reply" unless r.length == 4 + 2 * STAT_FIELDS.length

      depths = %i[ready delayed leased dead].each_with_index.to_h { |f, i| [f, Sluice.int(r[i])] }
      ClassStats.new(**depths, **STAT_FIELDS.each_with_index.to_h { |f, i| [f, Sluice.int(r[5 + 2 * i])] })
    end

    # Reports a signal's value, observed +age_ms+ ago (0..86400000); returns
    # the observation time, Unix ms by the Redis clock. Raises NotFoundError
    # for an undefined signal, InvalidArgumentError for a value that is not a
    # finite number.
    def report_signal(name, value, age_ms: 0)
      Sluice.check_name(name)
      unless value.is_a?(Integer) || (value.is_a?(Float) && value.finite?)
        raise InvalidArgumentError, "signal report: value must be a finite number"
      end
      unless age_ms.is_a?(Integer) && (0..86_400_000).cover?(age_ms)
        raise InvalidArgumentError, "signal report: age must be 0..86400000 ms"
      end

      Sluice.int(fcall("sluice_signal_report", "_", SIGNAL_KEYS, [name, value.to_s, age_ms.to_s], "signal report"))
    end

    private

    def raise_closed(err)
      close
      raise err
    end

    def keys_of(tag, suffixes) = suffixes.map { |s| "#{@namespace}:{#{tag}}:#{s}" }

    def fcall(fn, tag, suffixes, args, what)
      command = ["FCALL", fn, suffixes.length.to_s, *keys_of(tag, suffixes), *args]
      @cluster ? @cluster.call(tag, command) : @redis.call(*command)
    rescue Redis::BaseError => e
      raise error(e, what)
    end

    # Raises NotReplicatedError (with +ids+) unless WAIT's reply +acked+
    # says +replicas+ replicas confirmed the writes.
    def confirm(acked, replicas, wait_ms, ids)
      return if acked.is_a?(Integer) && acked >= replicas

      why = acked.is_a?(Exception) ? "WAIT: #{acked.message}" : "#{acked} acknowledged within #{wait_ms} ms"
      err = NotReplicatedError.new("enqueue: done, but not confirmed on #{replicas} replicas: #{why}")
      err.ids = ids
      raise err
    end

    # The Sluice::Error for +err+; a READONLY reply from a master the
    # sentinels named (it was demoted: the call did not run) drops the link,
    # so the next call asks the sentinels again.
    def error(err, what)
      if @sentinel && err.message.start_with?("READONLY")
        @redis.close
        return UnavailableError.new("#{what}: redis is no longer the master (READONLY); the call did not run")
      end
      @cluster&.lost if err.is_a?(Redis::BaseConnectionError)
      Sluice.from_redis(err, what)
    end

    # Sends +commands+ (on keys tagged {tag}) pipelined and reads every
    # reply: a reply, or the Sluice::Error of an error reply. redis-rb 4's
    # #pipelined raises the first error and drops the other replies, so this
    # writes and reads on its client (redis-rb 4's Redis::Client) itself. On
    # a cluster, a command redirected (it did not run) is sent again alone.
    def replies(tag, commands, what)
      return [] if commands.empty?

      client = (@cluster ? @cluster.link(@cluster.master(tag)) : @redis)._client
      replies = client.process(commands) { commands.map { client.read } }
      commands.zip(replies).map do |command, r|
        if @cluster && r.is_a?(Redis::CommandError) && r.message.start_with?(*Cluster::DID_NOT_RUN)
          r = begin
            @cluster.call(tag, command)
          rescue Redis::BaseError => e
            e
          end
        end
        r.is_a?(Redis::BaseError) ? error(r, what) : r
      end
    rescue Redis::BaseError => e
      err = error(e, what)
      err.ids = []
      raise err
    end
  end

  # A NEW Client: +url+ nil takes SLUICE_REDIS_URL, else
  # redis://127.0.0.1:6379; +namespace+ nil takes SLUICE_NAMESPACE, else
  # "sluice"; +timeout+ is per command, in seconds. Checks the Functions
  # library's version: ProtocolError when Redis holds none, an older or a
  # newer one. Raises UrlError, UnreachableError, AuthError, ServerError.
  def self.connect(url: nil, namespace: nil, timeout: 5.0)
    Client.new(url: url, namespace: namespace, timeout: timeout)
  end
end
