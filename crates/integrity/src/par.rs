//! Run a function over items on a few threads, heaviest items first.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `f` applied to every item, on at most `threads` threads, results in the items' order. Items
/// are handed out heaviest first (by `weight`), so one large item does not finish last on its
/// own. After the first error no new item is started; that error is returned.
pub(crate) fn map_heaviest_first<T: Sync, R: Send, E: Send>(
    items: &[T],
    weight: impl Fn(&T) -> u64,
    threads: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weight(&items[i])));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Mutex<Vec<Option<Result<R, E>>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(items.len()).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let r = f(&items[i]);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    slots.lock().expect("result slots")[i] = Some(r);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    let mut first_error = None;
    for slot in slots.into_inner().expect("result slots") {
        match slot {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_reports_errors() {
        let items: Vec<u64> = (0..50).collect();
        let out = super::map_heaviest_first(&items, |&x| x, 3, |&x| Ok::<_, ()>(x * 2)).unwrap();
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        let err =
            super::map_heaviest_first(&items, |&x| x, 2, |&x| if x == 7 { Err(x) } else { Ok(x) });
        assert_eq!(err, Err(7));
    }
}
