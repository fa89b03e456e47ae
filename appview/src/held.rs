//! A table read whole into memory and served from there: the one pattern behind the rankings
//! ([`crate::ranking`]) and the labels ([`crate::labels`]). A request reads the copy in memory;
//! the first one after start reads the table if the change listener has not yet (concurrent
//! first requests share one read), and the listener reads it again when a writer announces a
//! change. A failed read leaves the copy in memory as it was.

use std::future::Future;
use std::sync::{Arc, RwLock};

/// The copy of one table this process serves.
#[derive(Debug)]
pub struct Held<T> {
    current: RwLock<Option<Arc<T>>>,
    /// Serialises reads of the table.
    loading: tokio::sync::Mutex<()>,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held { current: RwLock::new(None), loading: tokio::sync::Mutex::new(()) }
    }
}

impl<T> Held<T> {
    /// The copy in memory, reading it with `load` first if there is none yet.
    pub async fn get<F, Fut, E>(&self, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(held) = self.peek() {
            return Ok(held);
        }
        let _one = self.loading.lock().await;
        match self.peek() {
            Some(held) => Ok(held),
            None => self.store(load().await?),
        }
    }

    /// Reads the table again with `load`; on failure the copy in memory stays as it was.
    pub async fn reload<F, Fut, E>(&self, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let _one = self.loading.lock().await;
        self.store(load().await?)
    }

    /// The copy in memory, if one was read.
    pub fn peek(&self) -> Option<Arc<T>> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn store<E>(&self, value: T) -> Result<Arc<T>, E> {
        let value = Arc::new(value);
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(&value));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Held;

    #[tokio::test]
    async fn the_first_read_loads_later_ones_serve_memory_and_a_failed_reload_keeps_it() {
        let held: Held<u32> = Held::default();
        assert_eq!(held.peek(), None);
        assert_eq!(*held.get(|| async { Ok::<_, ()>(1) }).await.expect("loaded"), 1);
        assert_eq!(*held.get(|| async { Ok::<_, ()>(2) }).await.expect("held"), 1, "not read again");
        assert!(held.reload(|| async { Err::<u32, _>("down") }).await.is_err());
        assert_eq!(held.peek().as_deref(), Some(&1), "a failed read keeps the copy");
        assert_eq!(*held.reload(|| async { Ok::<_, ()>(3) }).await.expect("reloaded"), 3);
        assert_eq!(held.peek().as_deref(), Some(&3));
    }
}
