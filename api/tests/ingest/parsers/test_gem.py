from pathlib import Path

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import ManifestError, ParseResult, parse_file, parse_text
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "gem"
RUNTIME, DEV, TEST, BUILD = (
    DependencyType.RUNTIME,
    DependencyType.DEVELOPMENT,
    DependencyType.TEST,
    DependencyType.BUILD,
)


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def test_gemfile_reads_gems_with_their_groups_and_requirements() -> None:
    result = parse_file(FIXTURES / "Gemfile", display_path="Gemfile")

    assert summary(result) == {
        "rails": ("~> 7.1.3, >= 7.1.3.2", RUNTIME, True),
        "pg": ("~> 1.1", RUNTIME, True),
        # Also listed in the development group; the runtime entry wins.
        "puma": (">= 5.0", RUNTIME, True),
        "importmap-rails": ("*", RUNTIME, True),
        "redis": (">= 4.0.1", RUNTIME, True),
        "tzinfo-data": ("*", RUNTIME, True),
        "bootsnap": ("*", RUNTIME, True),
        "sidekiq": ("~> 7.2", RUNTIME, True),
        "faraday": ("~> 2.9", RUNTIME, True),
        "image_processing": ("~> 1.2", RUNTIME, True),
        # The version is computed by Ruby, so it is unknown.
        "oj": ("*", RUNTIME, True),
        "rspec-rails": ("*", TEST, True),
        "rubocop-rails": ("*", TEST, True),
        "sprockets": ("*", BUILD, True),
        "debug": ("*", TEST, True),
        "factory_bot_rails": ("*", TEST, True),
        "web-console": ("*", DEV, True),
        "rack-mini-profiler": ("*", DEV, True),
        "capybara": ("*", TEST, True),
        "selenium-webdriver": ("*", TEST, True),
        "lograge": ("*", RUNTIME, True),
        "activerecord-jdbcpostgresql-adapter": ("*", RUNTIME, True),
        # Both branches of a condition count: the file is never run.
        "mysql2": ("~> 0.5", RUNTIME, True),
        "sqlite3": ("~> 1.4", RUNTIME, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.GEM}


def test_gemfile_skips_path_and_git_gems() -> None:
    result = parse_file(FIXTURES / "Gemfile")

    assert result.skipped == [
        "acme-internal (path vendor/gems/acme-internal)",
        "kaminari (github kaminari/kaminari)",
        "devise (git https://github.com/heartcombo/devise.git)",
        "admin_ui (path components)",
        "solid_queue (git https://github.com/rails/solid_queue.git)",
    ]


def test_gemfile_with_bom_and_crlf_line_endings(tmp_path: Path) -> None:
    gemfile = tmp_path / "Gemfile"
    text = 'source "https://rubygems.org"\n\ngroup :test do\n  gem "rspec", "~> 3.13"\nend\n'
    gemfile.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    assert summary(parse_file(gemfile)) == {"rspec": ("~> 3.13", TEST, True)}


def test_gemfile_gem_with_a_computed_name_is_skipped() -> None:
    text = 'gem "rake"\n%w[a b].each do |name|\n  gem name\nend\n'

    result = parse_text("Gemfile", text)

    assert summary(result) == {"rake": ("*", RUNTIME, True)}
    assert result.skipped == ["line 3: gem with a computed name"]


def test_gemfile_ruby_blocks_around_and_between_gems_keep_groups_balanced() -> None:
    text = """
db = case ENV["DB"]
     when "mysql" then "mysql2"
     else "pg"
     end
rails = if ENV["EDGE"]
  "~> 8.0"
else
  "~> 7.1"
end
install_if -> { RUBY_PLATFORM =~ /darwin/ } do
  gem "terminal-notifier"
end
group :test do
  gem "rspec"
end
gem "puma"
"""

    result = parse_text("Gemfile", text)

    assert summary(result) == {
        "terminal-notifier": ("*", RUNTIME, True),
        "rspec": ("*", TEST, True),
        "puma": ("*", RUNTIME, True),
    }


def test_gemfile_end_without_a_block_is_an_error() -> None:
    text = 'gem "rake"\nend\n'

    with pytest.raises(ManifestError) as caught:
        parse_text("Gemfile", text)

    assert caught.value.line == 2


def test_gemfile_unclosed_group_names_the_line_it_opened() -> None:
    text = 'source "https://rubygems.org"\n\ngroup :test do\n  gem "rspec"\n'

    with pytest.raises(ManifestError, match="never closed") as caught:
        parse_text("Gemfile", text)

    assert caught.value.line == 3


def test_gemfile_lock_direct_gems_come_from_dependencies() -> None:
    result = parse_file(FIXTURES / "Gemfile.lock", display_path="Gemfile.lock")

    direct = {"debug", "pg", "puma", "rails"}
    locked = {
        "actionpack": "7.1.3.2",
        "activesupport": "7.1.3.2",
        "bcrypt": "3.1.20",
        "concurrent-ruby": "1.2.3",
        "debug": "1.9.1",
        "irb": "1.12.0",
        # Platform builds of one version are one dependency, without the platform.
        "nokogiri": "1.16.2",
        "pg": "1.5.6",
        "puma": "6.4.2",
        "nio4r": "2.7.0",
        "racc": "1.7.3",
        "rack": "3.0.9.1",
        "rack-session": "2.0.0",
        "rails": "7.1.3.2",
        "railties": "7.1.3.2",
    }
    assert summary(result) == {
        name: (version, RUNTIME, name in direct) for name, version in locked.items()
    }


def test_gemfile_lock_git_and_path_gems_are_skipped() -> None:
    result = parse_file(FIXTURES / "Gemfile.lock")

    assert result.skipped == [
        "devise (git https://github.com/heartcombo/devise.git)",
        "acme-internal (path vendor/gems/acme-internal)",
    ]


def test_gemfile_lock_spec_without_a_version_is_an_error() -> None:
    text = "GEM\n  remote: https://rubygems.org/\n  specs:\n    rake (13.1.0)\n    broken\n"

    with pytest.raises(ManifestError) as caught:
        parse_text("Gemfile.lock", text)

    assert caught.value.line == 5


def test_gemspec_reads_runtime_and_development_dependencies() -> None:
    result = parse_file(FIXTURES / "acme-client.gemspec", display_path="acme-client.gemspec")

    assert summary(result) == {
        "faraday": (">= 1.10, < 3", RUNTIME, True),
        "faraday-retry": ("~> 2.2", RUNTIME, True),
        "addressable": ("*", RUNTIME, True),
        "activesupport": ("*", RUNTIME, True),
        "rspec": ("~> 3.13", DEV, True),
        "webmock": ("~> 3.19, >= 3.19.1", DEV, True),
    }


def test_generated_gemspec_keeps_the_typed_calls_over_the_fallback_branch() -> None:
    result = parse_file(FIXTURES / "legacy.gemspec")

    assert summary(result) == {
        "json": (">= 1.8, < 3", RUNTIME, True),
        "rake": ("~> 13.0", DEV, True),
    }


def test_gemspec_dependency_with_a_computed_name_is_skipped() -> None:
    text = "Gem::Specification.new do |s|\n  s.add_dependency NAME, '~> 1'\nend\n"

    result = parse_text("x.gemspec", text)

    assert result.dependencies == []
    assert result.skipped == ["line 2: dependency with a computed name"]


@pytest.mark.parametrize("name", ["Gemfile", "Gemfile.lock", "empty.gemspec"])
def test_gem_empty_file_has_no_dependencies(name: str) -> None:
    assert parse_text(name, "").dependencies == []
