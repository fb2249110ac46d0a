//! What the scanned facts show for each of the Model Openness Framework's components: the
//! evidence, and the licence when it comes from an open library, per component id.

use std::collections::BTreeMap;

use super::criterion::Evidence;
use super::facts::{Scan, WeightFile, count};
use super::mof::Found;
use super::repo::Repo;
use crate::lint;

impl Scan {
    /// Evidence per MOF component id.
    pub(super) fn mof_found(&self, repo: &Repo<'_>) -> BTreeMap<u32, Found> {
        let mut m: BTreeMap<u32, Found> = BTreeMap::new();
        let lib = self.library.as_ref();
        let lib_ev = lib.and_then(|(name, how, lic)| {
            lic.map(|l| {
                (
                    Evidence::new(
                        "README.md",
                        Some("library_name"),
                        format!("{name} ({l}), from {how}"),
                    ),
                    l.to_string(),
                )
            })
        });
        // 9 architecture: the library implements it, or code in the repository.
        let mut arch = Found::default();
        if !self.arch_code.is_empty() {
            arch.evidence.extend(self.arch_code.iter().cloned());
            arch.evidence.extend(self.arch_config.iter().cloned());
        } else if let Some((ev, l)) = &lib_ev
            && !self.arch_config.is_empty()
        {
            arch.evidence.extend(self.arch_config.iter().cloned());
            arch.evidence.push(ev.clone());
            arch.license = Some(l.clone());
        }
        m.insert(9, arch);
        // 10 final parameters.
        let mut params = Found::default();
        let finals: Vec<&WeightFile> = self.final_weights().collect();
        if !finals.is_empty() {
            let total: u64 = finals.iter().map(|w| w.size).sum();
            params.evidence.push(Evidence::new(
                &finals[0].path,
                None,
                format!("{}, {total} bytes", count(finals.len(), "weight file")),
            ));
        }
        m.insert(10, params);
        // 13 model card.
        let mut card = Found::default();
        let uses = lint::SECTIONS
            .iter()
            .find(|s| s.0 == "Uses")
            .map(|s| s.1)
            .unwrap_or(&[]);
        let limits = lint::SECTIONS
            .iter()
            .find(|s| s.0 == "Bias, Risks, and Limitations")
            .map(|s| s.1)
            .unwrap_or(&[]);
        if repo.has_front_matter() && repo.filled(uses).is_some() && repo.filled(limits).is_some() {
            card.evidence.push(Evidence::new(
                "README.md",
                None,
                "front matter, intended uses and limitations",
            ));
        }
        m.insert(13, card);
        m.insert(14, found(&self.data_cards));
        m.insert(11, found(&self.papers));
        m.insert(12, found(&self.eval_results));
        m.insert(20, found(&self.samples));
        // 7 training code.
        let mut train = found(&self.train_files);
        train.evidence.extend(self.train_links.iter().cloned());
        m.insert(7, train);
        // 8 inference code.
        let mut inference = found(&self.inference_files);
        inference.evidence.extend(self.arch_code.iter().cloned());
        if inference.evidence.is_empty()
            && let Some((ev, l)) = &lib_ev
        {
            inference.evidence.push(ev.clone());
            inference.license = Some(l.clone());
        }
        inference.evidence.extend(self.start_code.iter().cloned());
        m.insert(8, inference);
        m.insert(18, found(&self.eval_code));
        m.insert(19, found(&self.eval_data));
        let mut support = found(&self.support);
        if support.evidence.is_empty()
            && let Some((ev, l)) = &lib_ev
        {
            support.evidence.push(ev.clone());
            support.license = Some(l.clone());
        }
        m.insert(22, support);
        // 15 datasets.
        let mut datasets = Found::default();
        let ids = repo.list_field("datasets");
        if !ids.is_empty() {
            datasets.evidence.push(Evidence::new(
                "README.md",
                Some("datasets"),
                format!("{} (dataset licences not checked)", ids.join(", ")),
            ));
        }
        m.insert(15, datasets);
        let mut prep = found(&self.data_code_files);
        prep.evidence.extend(self.data_code_links.iter().cloned());
        m.insert(16, prep);
        m.insert(24, found(&self.intermediate));
        m.insert(21, found(&self.papers));
        m.insert(17, found(&self.metadata));
        m
    }
}

fn found(ev: &[Evidence]) -> Found {
    Found {
        evidence: ev.to_vec(),
        license: None,
    }
}
