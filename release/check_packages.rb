# Checks the package-manager files release/build wrote against SHA256SUMS
# and against the archives themselves, the way each tool would read them:
#
#   ruby release/check_packages.rb OUT VERSION RELEASE_URL METADATA_JSON \
#       UNPACKED_LINUX_ARCHIVE ZIP_LISTING
#
# - mfa-session.rb: loaded with a stand-in for Homebrew's formula DSL; every
#   url/sha256 pair must match SHA256SUMS, every .tar.gz there must be named,
#   the files `install` takes must be in the Linux archive, and the `test do`
#   block is run against that archive's binary;
# - mfa-session.json (Scoop) and winget/*.yaml: parsed, their URL and hash
#   must match SHA256SUMS, the paths they name must be in the zip;
# - [package.metadata.binstall] in Cargo.toml (from `cargo metadata`): the
#   pkg-url and bin-dir of each target, expanded as cargo-binstall does, must
#   name an archive of the release and a file in it.
#
# Prints "ok CHECK: detail" or "not ok CHECK: detail", one line per check;
# exits 1 when any failed.
require "json"
require "yaml"
require "open3"

out, version, release_url, metadata_json, unpacked, zip_listing = ARGV
abort "usage: #{$PROGRAM_NAME} OUT VERSION RELEASE_URL METADATA_JSON UNPACKED ZIP_LISTING" unless zip_listing

$failed = false
def check(name)
  detail = yield
  puts "ok #{name}: #{detail}"
rescue StandardError, ScriptError => e
  $failed = true
  puts "not ok #{name}: #{e.message.lines.first&.chomp}"
end

sums = File.readlines(File.join(out, "SHA256SUMS")).to_h do |line|
  hash, file = line.split
  [file.delete_prefix("*"), hash]
end
zip_files = File.readlines(zip_listing, chomp: true)

# The archive a URL names, checked against the release's base URL and sums.
def archive_of(url, hash, sums, release_url)
  base, _, file = url.rpartition("/")
  raise "#{url} is not under #{release_url}" unless base == release_url
  raise "#{file} is not in SHA256SUMS" unless sums.key?(file)
  raise "#{file}: #{hash} is not its SHA-256 #{sums[file]}" unless hash.to_s.casecmp?(sums[file])

  file
end

# --- Homebrew ----------------------------------------------------------------

# Records what a formula says, instead of Homebrew doing it.
class Formula
  class Folder
    attr_reader :sources

    def initialize(path)
      @path = path
      @sources = []
    end

    def install(*args)
      args.each { |a| a.is_a?(Hash) ? @sources.concat(a.keys) : @sources << a }
    end

    def to_s = @path
  end

  class << self
    attr_accessor :fields, :urls, :test_block

    def inherited(formula)
      super
      formula.fields = {}
      formula.urls = []
      formula.instance_variable_set(:@where, [])
    end

    %i[desc homepage version license].each do |field|
      define_method(field) { |value| fields[field] = value }
    end

    def url(value, **) = urls << { url: value, where: @where.join("/") }
    def sha256(value) = urls.last[:sha256] = value

    %i[macos linux arm intel].each do |scope|
      define_method(:"on_#{scope}") do |&block|
        @where.push(scope)
        block.call
      ensure
        @where.pop
      end
    end

    def test(&block) = self.test_block = block
  end

  attr_reader :folders

  def initialize(unpacked)
    @unpacked = unpacked
    @folders = Hash.new { |h, k| h[k] = Folder.new(unpacked) }
  end

  %i[bin man1 bash_completion zsh_completion fish_completion].each do |name|
    define_method(name) { folders[name] }
  end

  def version = self.class.fields[:version]

  def shell_output(command, status = 0)
    output, result = Open3.capture2(command)
    raise "#{command} exited #{result.exitstatus}, not #{status}" unless result.exitstatus == status

    output
  end

  def assert_match(pattern, text)
    found = pattern.is_a?(Regexp) ? pattern.match?(text) : text.include?(pattern)
    raise "#{pattern.inspect} not in #{text.inspect}" unless found
  end
end

check "formula loads" do
  load File.join(out, "mfa-session.rb")
  raise "no class MfaSession < Formula" unless defined?(MfaSession) && MfaSession < Formula

  f = MfaSession.fields
  raise "version #{f[:version]}, not #{version}" unless f[:version] == version
  missing = %i[desc homepage license].reject { |k| f[k] }
  raise "no #{missing.join(', ')}" unless missing.empty?

  "desc, homepage, license, version #{version}"
end

check "formula urls and sha256 match SHA256SUMS" do
  named = MfaSession.urls.map do |u|
    "#{u[:where]}: #{archive_of(u[:url], u[:sha256], sums, release_url)}"
  end
  tarballs = sums.keys.select { |file| file.end_with?(".tar.gz") }
  unnamed = tarballs.reject { |file| named.any? { |n| n.end_with?(" #{file}") } }
  raise "not in the formula: #{unnamed.join(', ')}" unless unnamed.empty?
  raise "no url" if named.empty?

  named.join("; ")
end

check "formula install takes files that are in the archive" do
  formula = MfaSession.new(unpacked)
  formula.install
  sources = formula.folders.values.flat_map(&:sources)
  missing = sources.reject { |s| File.exist?(File.join(unpacked, s)) }
  raise "not in the archive: #{missing.join(', ')}" unless missing.empty?

  "#{formula.folders.keys.join(', ')}: #{sources.join(', ')}"
end

check "formula test block passes against the Linux binary" do
  raise "no test block" unless MfaSession.test_block

  MfaSession.new(unpacked).instance_exec(&MfaSession.test_block)
  "its shell_output and assert_match calls pass"
end

# --- Scoop ---------------------------------------------------------------------

check "scoop manifest parses and matches SHA256SUMS" do
  m = JSON.parse(File.read(File.join(out, "mfa-session.json")))
  raise "version #{m['version']}" unless m["version"] == version

  arch = m.dig("architecture", "64bit") or raise "no architecture.64bit"
  file = archive_of(arch["url"], arch["hash"], sums, release_url)
  dir = arch["extract_dir"]
  bin = "#{dir}/#{m['bin']}"
  raise "#{bin} is not in the zip" unless zip_files.include?(bin)

  auto = m.dig("autoupdate", "architecture", "64bit", "url").to_s.gsub("$version", version)
  raise "autoupdate url #{auto} is not this release's" unless auto == arch["url"]

  "#{file}, bin #{bin}"
end

# --- winget --------------------------------------------------------------------

check "winget manifests parse and match SHA256SUMS" do
  docs = Dir[File.join(out, "winget", "*.yaml")].to_h { |p| [File.basename(p), YAML.safe_load_file(p)] }
  types = docs.values.map { |d| d["ManifestType"] }.sort
  raise "manifest types #{types}" unless types == %w[defaultLocale installer version]
  ids = docs.values.map { |d| [d["PackageIdentifier"], d["PackageVersion"].to_s] }.uniq
  raise "identifiers or versions differ: #{ids}" unless ids.size == 1 && ids[0][1] == version

  installer = docs.values.find { |d| d["ManifestType"] == "installer" }
  entries = installer["Installers"] or raise "no Installers"
  files = entries.map { |i| archive_of(i["InstallerUrl"], i["InstallerSha256"], sums, release_url) }
  nested = installer["NestedInstallerFiles"].map { |n| n["RelativeFilePath"].tr("\\", "/") }
  missing = nested.reject { |n| zip_files.include?(n) }
  raise "not in the zip: #{missing.join(', ')}" unless missing.empty?

  "#{ids[0][0]} #{version}: #{files.join(', ')}, #{nested.join(', ')}"
end

# --- cargo-binstall -----------------------------------------------------------

check "binstall pkg-url names the release's archives" do
  package = JSON.parse(File.read(metadata_json))["packages"].find { |p| p["name"] == "mfa-session" }
  meta = package.dig("metadata", "binstall") or raise "no [package.metadata.binstall]"
  repo = package["repository"] or raise "no repository in Cargo.toml"
  lines = []
  {
    "x86_64-unknown-linux-musl" => unpacked,
    "x86_64-unknown-linux-gnu" => unpacked,
    "x86_64-pc-windows-gnu" => :zip,
    "x86_64-pc-windows-msvc" => :zip
  }.each do |target, contents|
    settings = meta.reject { |k, _| k == "overrides" }.merge(meta.dig("overrides", target) || {})
    values = {
      "repo" => repo, "name" => package["name"], "version" => version, "target" => target,
      "bin" => "mfa-session", "binary-ext" => target.include?("windows") ? ".exe" : ""
    }
    expand = ->(t) { t.gsub(/\{\s*([a-z-]+)\s*\}/) { values.fetch(Regexp.last_match(1)) } }
    url = expand.call(settings["pkg-url"])
    file = archive_of(url, sums[File.basename(url)], sums, release_url)
    format = file.end_with?(".zip") ? "zip" : "tgz"
    raise "#{target}: pkg-fmt #{settings['pkg-fmt']} for #{file}" unless settings["pkg-fmt"] == format

    bin = expand.call(settings["bin-dir"])
    inside = contents == :zip ? zip_files.include?(bin) : File.exist?(File.join(contents, "..", bin))
    raise "#{target}: #{bin} is not in #{file}" unless inside

    lines << "#{target} -> #{file}"
  end
  lines.join("; ")
end

exit($failed ? 1 : 0)
