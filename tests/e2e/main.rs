//! End-to-end tests (one binary).

#[test]
fn sample_data_is_present() {
    assert!(integration_tests::data_path("simplewiki-2019-sample-7pages.xml.bz2").is_file());
}
