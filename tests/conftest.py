"""Shared pytest fixtures and markers."""

from __future__ import annotations

import os

import pytest

from xlsxgov import office


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "office: needs LibreOffice (soffice)")
    config.addinivalue_line("markers", "browser: needs headless Chromium")
    config.addinivalue_line("markers", "slow: takes seconds (a whole demo, hundreds of files, real servers); left out of make check")


# Marked by what they use, so that `make check` (-m "not office and not slow") never starts
# LibreOffice or a browser, whoever writes the test.
OFFICE_FIXTURES = {"soffice"}
BROWSER_FIXTURES = {"browser", "chromium", "page"}
# Left out of `make check` (they still run in `make test`): whole modules that take tens of
# seconds each (the demo, the portal under load and in a browser, the reading corpus, 200
# agencies consolidated from files, the walkthrough) and single tests that run the CLI in many
# fresh processes or many hypothesis examples. The lane keeps a fast test of every area:
# template, read, validate, consolidate, campaign, portal. test_markers.py checks that every
# name here exists.
SLOW_MODULES = {
    "test_demo", "test_portal_reliability", "test_portal_browser", "test_reading_corpus", "test_consolidate", "test_examples",
}
SLOW_TESTS = {
    "test_campaign::test_import_corpus",
    "test_campaign::test_import_killed_then_rerun_equals_uninterrupted",
    "test_campaign::test_import_workers_end_with_a_killed_import",
    "test_campaign::test_import_on_workers_equals_one_process",
    "test_campaign::test_two_concurrent_imports",
    "test_cli_validate::test_export",
    "test_coldstart::test_validate_runs_without_pandas_and_the_probe_sees_it_where_needed",
    "test_coldstart::test_help_template_and_campaign_status_do_not_import_pandas",
    "test_detail::test_detail_rows_read_back_as_the_facts",
    "test_fastpaths::test_fast_paths_equal_full_paths_on_random_workbooks",
    "test_fastpaths::test_fast_paths_equal_full_paths_on_the_reading_corpus",
    "test_parallel::test_validate_paths_in_workers_equals_one_process",
    "test_campaign_clerk::test_settings_change_the_office_and_send_refuses_without_one",
    "test_campaign_clerk::test_withdraw_sets_aside_and_the_previous_becomes_current",
    "test_cli_clerk::test_status_is_one_line_per_agency_at_80_columns",
    "test_cli_docs::test_parse_errors_are_chinese",
    "test_consolidate_campaign::test_cli_dispatches_on_a_campaign_folder",
    "test_editions::test_new_edition_end_to_end",
    "test_export::test_cli_export_campaign_and_consolidated",
    "test_extract::test_extract_command_json_and_filled_template",
    "test_extract::test_property_run_together_text_is_right_or_says_it_is_ambiguous",
    "test_mail::test_safe_filename_never_escapes",
    # The portal module shares one server; these run the CLI, wait out login delays or build
    # exports (the audit test reads what they did, so it goes with them).
    "test_portal::test_wrong_and_revoked_links_answer_404_revealing_nothing",
    "test_portal::test_login_failures_delay_then_lock_the_name_and_do_not_tell_names_apart",
    "test_portal::test_board_counts_search_filter_sort",
    "test_portal::test_campaign_actions_consolidate_export_status_remind",
    "test_portal::test_json_api_with_a_client_token",
    "test_portal::test_serve_requires_a_first_admin",
    "test_portal::test_hostile_uploads_get_the_reader_s_file_screen",
    "test_portal::test_audit_log_records_who_what_where_and_is_append_only",
    "test_read_validate::test_property_roundtrip_and_single_change",
    "test_read_validate::test_hostile_files_mixed_with_good",
    "test_read_validate::test_hostile_files_one_by_one",
    "test_remind::test_cli_remind_send_status",
    "test_render::test_renders_in_chromium_without_overflow",  # a browser, under another fixture name
    "test_remind::test_cli_nobody_to_remind",
    "test_rules::test_cli_rules_json_and_unknown_edition",
    "test_template::test_cli_template",
    "test_template::test_cli_template_with_password",
    "test_template::test_cli_template_refuses_with_a_message",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        if names & OFFICE_FIXTURES:
            item.add_marker(pytest.mark.office)
        if (names & BROWSER_FIXTURES or module in SLOW_MODULES
                or f"{module}::{getattr(item, 'originalname', item.name)}" in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def soffice() -> str:
    """The LibreOffice executable. Skips the test without it, except in CI, where it must exist."""
    path = office.soffice_path()
    if path is None:
        reason = "LibreOffice (soffice) not on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: LibreOffice is required in CI)")
        pytest.skip(reason)
    return path
